#!/bin/sh
# bootstrap.sh: install what cgigate needs from Debian (when missing and
# run as root), then configure and build it in place.  Safe to run again.
#
#   sh bootstrap.sh                 build and run: the build's packages
#   sh bootstrap.sh --deps test     only install what the tests need
#                                   (make check does this itself)
#   sh bootstrap.sh --deps pkg      only install what building and
#                                   testing the Debian package needs
#                                   (tests/pkg/deb.sh does this itself)
#
# BOOTSTRAP_EXTRA adds packages (tests/bench/bench.sh uses it for its
# peers).  Nothing installed here is left enabled as a service.
set -eu
cd "$(dirname "$0")"

# Build and run (libfcgi-perl for handlers/hello-perl.fcgi, libjs-chart.js
# for the dashboard's charts: cgigate serves its chart.min.js).
RUN_PKGS="gcc make autoconf automake pkg-config libc6-dev
libcivetweb-dev libsqlite3-dev libcmocka-dev libfcgi-dev libfcgi-perl
libjs-chart.js"
# Tests: curl, sqlite3, procps, mandoc, php-fpm as a remote FastCGI
# backend, php-cgi and fcgiwrap as local pools serving a document_root,
# chromium and libjs-chart.js for the dashboard (a run-time package too;
# here for a machine bootstrapped before it was one), git for
# git-http-backend as a CGI handler, python3 to hold the admin endpoints'
# JSON and UTF-8 to the letter, haproxy as a proxy that sends the PROXY
# protocol.
TEST_PKGS="curl sqlite3 procps mandoc php-fpm php-cgi fcgiwrap chromium git
python3 libjs-chart.js haproxy"
# The Debian package (tests/pkg/deb.sh): the build's packages, debhelper
# and lintian, git to build from a clean clone, curl and sqlite3 to try
# the installed daemon, logrotate to rotate its access log.
PKG_PKGS="debhelper lintian git curl sqlite3 logrotate"

# Install the missing ones of $@; what they brought that runs as a
# service (php-fpm, fcgiwrap, a benchmark's peers) stays disabled: the
# tests and benchmarks run their own instances on ephemeral ports.
install() {
	missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "ok installed" || missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "bootstrap.sh: missing Debian packages:$missing" >&2
		echo "bootstrap.sh: run as root, or: apt-get install$missing" >&2
		exit 1
	fi
	echo "bootstrap.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	before=$(mktemp)
	dpkg-query -W -f='${Package} ${Status}\n' | grep "ok installed" |
	    cut -d' ' -f1 | sort >"$before"
	# Installing a daemon must not start it either.
	policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		policy=1
	fi
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	[ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
	dpkg-query -W -f='${Package} ${Status}\n' | grep "ok installed" |
	    cut -d' ' -f1 | sort | comm -13 "$before" - |
	while read -r p; do
		dpkg -L "$p" 2>/dev/null | grep -E \
		    '^/(usr/)?lib/systemd/system/[^/]+\.(service|socket)$' |
		while read -r u; do
			deb-systemd-helper disable "${u##*/}" >/dev/null 2>&1 || :
		done
		dpkg -L "$p" 2>/dev/null | grep -E '^/etc/init\.d/[^/]+$' |
		while read -r s; do
			update-rc.d "${s##*/}" disable >/dev/null 2>&1 || :
		done
	done
	rm -f "$before"
}

if [ "${1:-}" = --deps ]; then
	case "${2:-}" in
	test)	install $TEST_PKGS ;;
	pkg)	install $RUN_PKGS $PKG_PKGS ;;
	*)	echo "usage: sh bootstrap.sh [--deps test|pkg]" >&2; exit 2 ;;
	esac
	exit 0
fi
# shellcheck disable=SC2086
install $RUN_PKGS ${BOOTSTRAP_EXTRA:-}

if [ ! -x configure ] || [ configure.ac -nt configure ] ||
    [ Makefile.am -nt configure ]; then
	autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
	./configure ${CONFIGURE_FLAGS:-}
fi
make -j"$(nproc)"

#!/bin/sh
# bootstrap.sh: install what cgigate needs from Debian (when missing and
# run as root), then configure and build it in place.  Safe to run again.
set -eu
cd "$(dirname "$0")"

# Build; run (libfcgi-perl for handlers/hello-perl.fcgi); test (curl,
# sqlite3, procps, mandoc, php-fpm as a remote FastCGI backend, php-cgi
# and fcgiwrap as local pools serving a document_root, chromium for the
# dashboard, git for git-http-backend as a CGI handler).  BOOTSTRAP_EXTRA
# adds packages (tests/bench/bench.sh uses it for its peers).
PKGS="gcc make autoconf automake pkg-config libc6-dev
libcivetweb-dev libsqlite3-dev libcmocka-dev libfcgi-dev libfcgi-perl
curl sqlite3 procps mandoc php-fpm php-cgi fcgiwrap chromium git
${BOOTSTRAP_EXTRA:-}"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "bootstrap.sh: missing Debian packages:$missing" >&2
		echo "bootstrap.sh: run as root, or: apt-get install$missing" >&2
		exit 1
	fi
	echo "bootstrap.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# Installing a daemon (php-fpm, fcgiwrap) must not start it as a service:
	# the tests run their own instances on ephemeral ports.
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
fi

if [ ! -x configure ] || [ configure.ac -nt configure ] ||
    [ Makefile.am -nt configure ]; then
	autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
	./configure ${CONFIGURE_FLAGS:-}
fi
make -j"$(nproc)"

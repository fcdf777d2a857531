#!/bin/sh
# timings_rss.sh: max_rss_kb (cgigate-timings(7)) is the handler's own
# peak or NULL, never cgigate's.  A CGI handler that touches N MB, N above
# cgigate's own peak, is recorded within a few MB of the peak it reads in
# its own /proc/self/status; a tiny shell handler, whose figure from
# wait4 is cgigate's own peak (the spawn shares cgigate's memory until
# exec), records NULL; FastCGI rows record NULL (a worker's rusage is not
# a request's).
. "$(dirname "$0")/gw.sh"

FIX="$TB/tests/fixtures/fcgi-fixture"
[ -x "$FIX" ] || skip "fixture not built"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
command -v perl >/dev/null || skip "perl not installed"
cat >"$H/tiny.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\nhello\n'
EOF
# Touches QUERY_STRING MB (vec zero-fills the string it grows), then
# prints its own peak resident set, in KB, as the kernel counts it.
cat >"$H/big.cgi" <<'EOF'
#!/usr/bin/perl
my $s = "";
vec($s, $ENV{QUERY_STRING} * 1048576 - 1, 8) = 1;
open(my $f, "<", "/proc/self/status") or die;
my ($hwm) = grep { /^VmHWM:/ } <$f>;
$hwm =~ s/\D//g;
print "Content-Type: text/plain\n\n$hwm\n";
EOF
chmod 755 "$H"/*.cgi
cp "$FIX" "$H/pool.fcgi"
mkdir -p "$W/www"
server_conf >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"

# A few requests first, so that cgigate's own peak is what it is serving.
for i in 1 2 3 4 5; do curl -s -o /dev/null "$URL/tiny/$i"; done
curl -s -o /dev/null "$URL/pool"
gw_hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$GW_PID/status"; }
hwm0=$(gw_hwm)
expect_ge "cgigate's own peak is known (KB)" 1 "$hwm0"

# N MB: 40, or 20 more than cgigate's own peak when that is larger (a
# sanitizer build), so that the handler's peak is the larger of the two.
mb=$((hwm0 / 1024 + 20))
[ "$mb" -ge 40 ] || mb=40
own=$(curl -s "$URL/big?$mb")
expect_ge "big handler touched $mb MB (its own VmHWM, KB)" \
    $((mb * 1024)) "$own"
wait_sql 1 "select count(*) from requests where path = '/big'"
got=$(sql "select ifnull(max_rss_kb, 'NULL') from requests
    where path = '/big'")
case $own$got in
*[!0-9]*|'')
	not_ok "big handler: max_rss_kb '$got', own peak '$own'" ;;
*)
	# Its peak after printing may pass what it read by a little (perl's
	# exit), never by megabytes; below it by no more than the kernel's
	# per-CPU counting slack (rusage reads the counters unsummed,
	# /proc/PID/status sums them): a batch of max(32, 2 * CPUs) pages
	# per CPU.
	n=$(getconf _NPROCESSORS_CONF)
	b=$((n * 2 > 32 ? n * 2 : 32))
	slack=$((n * b * $(getconf PAGESIZE) / 1024))
	if [ "$got" -ge $((own - slack)) ] &&
	    [ "$got" -le $((own + 4096)) ]; then
		ok "big handler: max_rss_kb $got KB, its own peak $own KB" \
		    "(slack $slack KB)"
	else
		not_ok "big handler: max_rss_kb $got KB, its own peak $own KB" \
		    "(slack $slack KB)"
	fi ;;
esac

for i in 1 2 3 4 5 6 7 8; do curl -s -o /dev/null "$URL/tiny/x$i"; done
wait_sql 8 "select count(*) from requests where path like '/tiny/x%'"
hwm1=$(gw_hwm)
# The invariant: no figure as large as cgigate's own peak of the time.
expect_eq "tiny handler: no max_rss_kb as large as cgigate's ($hwm0 KB)" 0 \
    "$(sql "select count(*) from requests where path like '/tiny/x%'
    and max_rss_kb >= $hwm0")"
expect_eq "tiny handler: max_rss_kb NULL, its figure is cgigate's" 8 \
    "$(sql "select count(*) from requests where path like '/tiny/x%'
    and max_rss_kb is null")"
expect_eq "and its CPU times are still recorded" 8 \
    "$(sql "select count(*) from requests where path like '/tiny/x%'
    and user_cpu_us >= 0 and sys_cpu_us >= 0 and exit_status = 0")"
echo "# cgigate's VmHWM: $hwm0 KB, then $hwm1 KB"

wait_sql 1 "select count(*) from requests where path = '/pool'"
expect_eq "FastCGI row: max_rss_kb NULL, CPU times NULL" 'fastcgi|1|1|1' \
    "$(sql "select mode, max_rss_kb is null, user_cpu_us is null,
    sys_cpu_us is null from requests where path = '/pool'")"
finish

#!/bin/sh
# timings_static.sh: every static file's row has the bytes the door passed
# on (door_late.c), also when requests wait for one of civetweb's few
# threads: the door then closes a kept connection at the end of its
# exchange and lends its slot to a waiting request, sometimes before
# civetweb's thread has made the first one's row.
. "$(dirname "$0")/gw.sh"

mkdir -p "$W/www"
printf 'abc' >"$W/www/s.txt"
server_conf >"$W/cgigate.conf"
printf 'threads = 2\n' >>"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"

# The size of the answer, head and body, as curl sees it.
want=$(curl -s -o /dev/null -w '%{size_header} %{size_download}' \
    "$URL/s.txt?one" | awk '{ print $1 + $2 }')
wait_sql 1 "select count(*) from requests where query = 'one'"

# 8 kept-alive connections at once for 3 s (tests/fixtures/hammer).
"$TB/tests/fixtures/hammer" -c 8 -d 3 "${URL##*:}" /s.txt >"$W/hammer.out"
sed 's/^/# /' "$W/hammer.out"
n=$(sed -n '1s/.* ok=\([0-9]*\) .*/\1/p' "$W/hammer.out")
expect_ge "the load went through" 1000 "${n:-0}"
wait_sql "$((n + 1))" "select count(*) from requests where mode = 'static'"
expect_eq "every static row has the bytes of its answer" "$n|$n|$n" \
    "$(sql "select count(*), count(bytes_out) filter (where bytes_out =
    $want), count(ttfb_us) from requests where path = '/s.txt'
    and query is null")"
finish

#!/bin/sh
# fastcgi_failures.sh: one story per FastCGI failure.  A slow client that
# runs a request out of time is not the backend's fault (a healthy php-fpm
# stays in service), and a request cut off by a graceful stop is recorded
# as the stop, not as a timeout.
. "$(dirname "$0")/gw.sh"

FIX="$TB/tests/fixtures/fcgi-fixture"
[ -x "$FIX" ] || skip "fixture not built ($FIX)"
# bootstrap.sh installs php-fpm: missing, it is a failure, not a skip.
[ -n "$FPM" ] || { not_ok "php-fpm is installed (bootstrap.sh)"; finish; }

mkdir -p "$W/www" "$W/php"
cat >"$W/php/big.php" <<'EOF'
<?php
header("Content-Type: text/plain");
echo str_repeat("x", 32 * 1024 * 1024);
EOF
cat >"$W/php/small.php" <<'EOF'
<?php
echo "small\n";
EOF
fpm_port=$(free_port)
start_fpm "$fpm_port" || not_ok "php-fpm did not start"
cp "$FIX" "$H/sleepy.fcgi"
{ server_conf; cat <<EOF; } >"$W/cgigate.conf"
drain_timeout = 500ms
[route /php]
fastcgi = tcp:127.0.0.1:$fpm_port
document_root = $W/php
timeout = 1s
EOF
start_gateway --config "$W/cgigate.conf"

# A client reading at 1 MB/s cannot take 32 MB within the 1 s timeout.
curl -s -o "$W/big.out" --limit-rate 1M -m 60 "$URL/php/big.php"
expect_eq "a slow reader's request is cut at the timeout" 18 $?
expect_log "the log blames the client" \
    "client too slow reading the answer"
if log_has "ejected"; then
	not_ok "the healthy backend is not ejected"
else
	ok "the healthy backend is not ejected"
fi
expect_eq "the next request is served at once" "small" \
    "$(curl -s -m 5 "$URL/php/small.php")"
expect_absent "the status shows no ejected backend" '"ejected"' \
    "$(curl -s "$URL/_gateway/status")"

# A request still running when the drain runs out: 503, "shutting down".
curl -s -o /dev/null -w '%{http_code}' "$URL/sleepy?sleep=30000" \
    >"$W/sleepy.code" &
cl=$!
wait_route /sleepy 1 0
stop_gateway
wait $cl
expect_eq "a FastCGI request cut off by the drain: 503" 503 \
    "$(cat "$W/sleepy.code")"
expect_log "the log says it was the stop" \
    "GET /sleepy -> 503: shutting down: drain_timeout passed"
expect_eq "and so does its row" "503|shutting down: drain_timeout passed" \
    "$(sql "select status, error from requests where route = '/sleepy'")"
finish

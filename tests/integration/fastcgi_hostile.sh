#!/bin/sh
# fastcgi_hostile.sh: hostile and mortal FastCGI peers, end to end.
#
# tests/fixtures/fcgi-fixture plays a backend that sends records late,
# behind END_REQUEST or under another request's id, closes its kept
# connection, or exits after a few requests as php-cgi does; once as a
# local pool worker and once as a remote backend over TCP, each with a
# single connection (max_workers = 1, max_connections = 1) so that every
# request goes over the connection the previous one used.  What is
# checked: every client gets its own answer, never a stale one, and a
# worker found gone before it read a request costs no client a 502.
. "$(dirname "$0")/gw.sh"

FIX="$TB/tests/fixtures/fcgi-fixture"
[ -x "$FIX" ] || skip "fixture not built ($FIX)"

cp "$FIX" "$H/hostile.fcgi"
cp "$FIX" "$H/mortal.fcgi"
cp "$FIX" "$H/mortal2.fcgi"
# Real php-cgi as a local worker.  A local pool gives the worker its own
# program as SCRIPT_FILENAME, so the wrapper is both the shell script
# that starts php-cgi and the PHP script it runs: the shell skips the
# PHP as a here-document, PHP skips the #! line and prints the rest.
PHPCGI=$(command -v php-cgi)
if [ -n "$PHPCGI" ]; then
	cat >"$H/php.fcgi" <<'EOF2'
#!/bin/sh
: <<'?>'
<?php
echo "php ", 6 * 7, " ", $_SERVER["QUERY_STRING"], "\n";
__halt_compiler();
?>
exec php-cgi
EOF2
	chmod 755 "$H/php.fcgi"
fi

# Remote backends: the fixture listening on an ephemeral TCP port.
FIXTURE_TCP="$W/remote.port" FIXTURE_MARK="$W/remote.mark" "$FIX" &
track $!
FIXTURE_TCP="$W/recycled.port" FIXTURE_CONN_MAX=2 "$FIX" &
track $!
wait_file "$W/remote.port" 50 && wait_file "$W/recycled.port" 50 ||
    not_ok "the TCP fixtures listen"

{ server_conf; cat <<EOF2; } >"$W/cgigate.conf"
[route /hostile]
min_workers = 1
max_workers = 1
timeout = 5s
env = FIXTURE_MARK=$W/local.mark
[route /remote]
fastcgi = tcp:127.0.0.1:$(cat "$W/remote.port")
max_connections = 1
timeout = 5s
[route /recycled]
fastcgi = tcp:127.0.0.1:$(cat "$W/recycled.port")
max_connections = 1
timeout = 5s
[route /mortal]
min_workers = 1
max_workers = 1
env = FIXTURE_MAX=3
[route /mortal2]
min_workers = 2
max_workers = 2
env = FIXTURE_MAX=3
[route /php]
min_workers = 1
max_workers = 1
env = PHP_FCGI_MAX_REQUESTS=5
EOF2
mkdir -p "$W/www"
start_gateway --config "$W/cgigate.conf"

# "CODE body" of one request, the body's lines joined by spaces.
get() {
	code=$(curl -s -m 10 -o "$W/got" -w '%{http_code}' "$URL$1")
	echo "$code $(tr '\n' ' ' <"$W/got" | sed 's/ $//')"
}

marks() {	# file what
	if [ -e "$1" ]; then grep -c "^$2\$" "$1"; else echo 0; fi
}
marked() { [ "$(marks "$1" "$2")" -ge "$3" ]; }	# file what count

# The same hostile script against one route: $1 the route, $2 the
# fixture's mark file, $3 what to call it.
hostile() {
	r=$1
	m=$2
	w=$3
	# Late records: a whole stale answer 300 ms after END_REQUEST,
	# sitting on the kept connection when the next request comes.
	n=$(marks "$m" late)
	expect_eq "$w: a request answered, then late records" "200 said A1" \
	    "$(get "$r?late=300&say=A1")"
	retry 50 marked "$m" late $((n + 1)) ||
	    not_ok "$w: the fixture sent its late records"
	expect_eq "$w: the next client gets its own answer, not the stale one" \
	    "200 said B1" "$(get "$r?say=B1")"
	expect_eq "$w: and so does the client after it" "200 said C1" \
	    "$(get "$r?say=C1")"

	# Records in the same read right behind END_REQUEST.
	expect_eq "$w: an answer with records behind END_REQUEST" \
	    "200 said A2" "$(get "$r?trailing&say=A2")"
	expect_eq "$w: the next client gets its own answer" "200 said B2" \
	    "$(get "$r?say=B2")"

	# A stale answer under the previous request's id, in front of the
	# real one: the request id tells them apart; the exchange ends.
	expect_eq "$w: a request on the kept connection" "200 said A3" \
	    "$(get "$r?say=A3")"
	got=$(get "$r?previd&say=B3")
	expect_eq "$w: records for the previous request id -> 502" 502 \
	    "${got%% *}"
	expect_eq "$w: the next client gets its own answer" "200 said C3" \
	    "$(get "$r?say=C3")"

	# Records for another request id (the next one up).
	got=$(get "$r?wrongid")
	expect_eq "$w: records for another request id -> 502" 502 "${got%% *}"
	expect_eq "$w: the next client gets its own answer" "200 said C4" \
	    "$(get "$r?say=C4")"

	# EOF while idle: the backend closed the kept connection.
	n=$(marks "$m" closed)
	expect_eq "$w: an answer, then the backend closes the connection" \
	    "200 said A5" "$(get "$r?close&say=A5")"
	retry 50 marked "$m" closed $((n + 1)) ||
	    not_ok "$w: the fixture closed its connection"
	expect_eq "$w: the next request goes on a new connection" \
	    "200 said B5" "$(get "$r?say=B5")"

	# The connection dies after the request went out, before any
	# answer (a worker gone between taking it and answering): a GET
	# may be sent again (RFC 9110 9.2.2), a POST with a body may not.
	n=$(marks "$m" dropped)
	expect_eq "$w: an answer, then the next request will be dropped" \
	    "200 said A7" "$(get "$r?dropnext&say=A7")"
	expect_eq "$w: a GET whose connection died unanswered is retried" \
	    "200 said B7" "$(get "$r?say=B7")"
	retry 50 marked "$m" dropped $((n + 1)) ||
	    not_ok "$w: the fixture dropped a request"
	expect_eq "$w: again an answer, then a drop" "200 said A8" \
	    "$(get "$r?dropnext&say=A8")"
	code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -d body \
	    "$URL$r?say=B8")
	expect_eq "$w: a POST with a body is not repeated: 502" 502 "$code"
	retry 50 marked "$m" dropped $((n + 2)) ||
	    not_ok "$w: the fixture dropped the POST"
	expect_eq "$w: and the next client is served" "200 said C8" \
	    "$(get "$r?say=C8")"
}

hostile /hostile "$W/local.mark" "local pool"
expect_log "stale bytes on an idle connection are logged" \
    "pool /hostile: pid "
expect_log "with what was found" "data on an idle kept connection"
expect_log "an idle connection closed by the worker is logged" \
    "closed its idle kept connection"
expect_log "records behind END_REQUEST are logged" \
    "FastCGI data after END_REQUEST"
expect_log "records of another request are logged" \
    "FastCGI record for another request id"
expect_log "a retried GET is logged" \
    "the connection died unanswered (FastCGI application closed the connection before END_REQUEST); GET is idempotent: trying again"

# A worker that stops reading its kept connection but leaves it open:
# nothing shows on the idle connection, and the next request's first
# write fails before the worker took any of it.  That request is sent
# again on a new connection, and says so in the log.
n=$(marks "$W/local.mark" deaf)
expect_eq "an answer, then the worker stops reading the connection" \
    "200 said A6" "$(get "/hostile?deaf&say=A6")"
retry 50 marked "$W/local.mark" deaf $((n + 1)) ||
    not_ok "the fixture made its connection deaf"
expect_eq "the next request is sent again on a new connection" \
    "200 said B6" "$(get "/hostile?say=B6")"
expect_log "and the log says why" "a kept connection was closed before it took any of the request (Broken pipe); trying again"

# A GET that kills whichever worker takes it is sent again once, not
# until it has killed every worker it can reach, and is a 502.
expect_eq "a warm worker first" "200 said W9" "$(get "/hostile?say=W9")"
n0=$(gw_log | grep -c "pool /hostile: .*is idempotent: trying again")
got=$(get "/hostile?crashfirst")
expect_eq "a GET that kills its worker, again on the next: 502" 502 \
    "${got%% *}"
n1=$(gw_log | grep -c "pool /hostile: .*is idempotent: trying again")
expect_eq "it was sent again once, not until four workers died" 1 \
    $((n1 - n0))
expect_eq "and the pool serves the next client" "200 said W10" \
    "$(get "/hostile?say=W10")"

hostile /remote "$W/remote.mark" "remote backend"
expect_log "a remote backend's stale bytes are logged with its name" \
    "pool /remote: tcp:127.0.0.1:$(cat "$W/remote.port"): data on an idle"
metrics=$(curl -s "$URL/_gateway/metrics")
expect_contains "dropped idle connections are counted by route" \
    'cgigate_pool_idle_dropped_total{route="/remote",reason="data"} 1' \
    "$metrics"
expect_contains "and why" \
    'cgigate_pool_idle_dropped_total{route="/remote",reason="closed"} 1' \
    "$metrics"

# --- workers and connections that end on their own --------------------
# php-cgi exits after PHP_FCGI_MAX_REQUESTS (500) requests, closing its
# connection; the request after must not pay for it.
# The requests (of N) whose answer was not "200 said ID<i>", as i:code.
misses() {	# route id n
	_bad=""
	for _i in $(seq 1 "$3"); do
		_got=$(get "$1?say=$2$_i")
		[ "$_got" = "200 said $2$_i" ] || _bad="$_bad $_i:${_got%% *}"
	done
	echo "$_bad"
}
expect_eq "one worker exiting every 3 requests: 20 requests all 200" "" \
    "$(misses /mortal M 20)"
expect_eq "two workers exiting every 3 requests: 20 requests all 200" "" \
    "$(misses /mortal2 M 20)"
expect_eq "a backend closing each connection after 2: 10 requests all 200" \
    "" "$(misses /recycled R 10)"
if [ -n "$PHPCGI" ]; then
	bad=""
	for i in $(seq 1 20); do
		got=$(get "/php?P$i")
		[ "$got" = "200 : <<'?>' php 42 P$i" ] || bad="$bad $i:$got"
	done
	expect_eq "php-cgi exiting every 5 requests: 20 requests all 200" "" \
	    "$bad"
else
	# bootstrap.sh installs php-cgi: missing, it is a failure.
	not_ok "php-cgi is installed (bootstrap.sh)"
fi
stop_gateway
n=$(sql "select count(*) from requests where route like '/mortal%' and status = 200")
expect_eq "timings: 40 rows of 200" 40 "$n"
finish

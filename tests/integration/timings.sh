#!/bin/sh
# timings.sh: the views of the timing database answer with the numbers
# the rows hold, and retention trims by row count and by age.
. "$(dirname "$0")/gw.sh"

cat >"$H/fast.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\nfast\n'
EOF
cat >"$H/broken.cgi" <<'EOF'
#!/bin/sh
exit 3
EOF
chmod 755 "$H"/*.cgi
mkdir -p "$W/www"
server_conf >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"
seq 1 30 | sed "s|.*|$URL/fast|" >"$W/urls"
xargs -n 10 curl -m 120 -s <"$W/urls" >/dev/null
for i in 1 2 3; do curl -s -o /dev/null "$URL/broken"; done
wait_sql 33 "select count(*) from requests"

row=$(sql "select requests, errors, p50_total_us <= p95_total_us,
    p95_total_us <= p99_total_us, p50_ttfb_us > 0
    from route_stats where route = '/fast'")
expect_eq "route_stats: count, errors, ordered percentiles" "30|0|1|1|1" "$row"
want=$(sql "select total_us from requests where route = '/fast'
    order by total_us limit 1 offset 14")
expect_eq "route_stats: p50 is the 15th of 30 (nearest rank)" "$want" \
    "$(sql "select p50_total_us from route_stats where route = '/fast'")"
want=$(sql "select max(total_us) from requests where route = '/fast'")
expect_eq "route_stats: p99 of 30 is the largest" "$want" \
    "$(sql "select p99_total_us from route_stats where route = '/fast'")"
expect_eq "route_stats: errors counted" "3|3" \
    "$(sql "select requests, errors from route_stats where route = '/broken'")"
expect_eq "recent_errors lists them" 3 \
    "$(sql "select count(*) from recent_errors where route = '/broken'")"
# slowest_recent (cgigate-timings(7)): the 50 slowest requests of the last
# hour, slowest first.  Its total_us, in the order it returns them, are
# the same numbers sorted slowest first, and those of the table's slowest.
got=$(sql "select total_us from slowest_recent" | tr '\n' ' ')
expect_eq "slowest_recent is ordered, slowest first" \
    "$(sql "select total_us from slowest_recent" | sort -rn | tr '\n' ' ')" \
    "$got"
expect_eq "slowest_recent holds the slowest of the last hour" \
    "$(sql "select total_us from requests where ts >= unixepoch() - 3600
    order by total_us desc limit 50" | tr '\n' ' ')" "$got"
expect_eq "slowest_recent has every row here (33, under its 50)" 33 \
    "$(sql "select count(*) from slowest_recent")"
row=$(sql "select requests, avg_spawn_us > 0, avg_connect_us is null
    from startup_cost where route = '/fast' and mode = 'cgi'")
expect_eq "startup_cost: CGI spawn cost, no connect cost" "30|1|1" "$row"

# Static files (cgigate-timings(7)): civetweb sends them with sendfile(2)
# and counts nothing; the door counts what it passed on to the client,
# head and body, and when the first byte went (ttfb_us).
head -c 10000 /dev/zero >"$W/www/ten.bin"
get=$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{size_header}' \
    "$URL/ten.bin?get")
hd=$(curl -s -I -o /dev/null -w '%{http_code} %{size_header}' \
    "$URL/ten.bin?head")
miss=$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{size_header}' \
    "$URL/missing.txt?miss")
wait_sql 3 "select count(*) from requests where mode = 'static'"
set -- $get
expect_eq "static: curl got the file's 10000 bytes" "200 10000" "$1 $2"
expect_eq "static: its row has the bytes curl got, head and body" \
    "GET|200|$(($2 + $3))" "$(sql "select method, status, bytes_out
    from requests where query = 'get'")"
expect_eq "static: time to first byte, within the total" 1 \
    "$(sql "select ttfb_us > 0 and ttfb_us <= total_us from requests
    where query = 'get'")"
set -- $hd
expect_eq "static HEAD: the head's bytes alone" "HEAD|$1|$2" \
    "$(sql "select method, status, bytes_out from requests
    where query = 'head'")"
set -- $miss
expect_eq "civetweb's 404: its row and its bytes" "$1|static|$(($2 + $3))" \
    "$(sql "select status, mode, bytes_out from requests
    where query = 'miss'")"
# One kept-alive connection, files of three sizes: each row has its own
# exchange's bytes, not its neighbour's.
head -c 7 /dev/zero >"$W/www/k1.bin"
head -c 70000 /dev/zero >"$W/www/k2.bin"
head -c 700 /dev/zero >"$W/www/k3.bin"
got=$(curl -s -w '%{num_connects} %{size_download} %{size_header}\n' \
    -o /dev/null -o /dev/null -o /dev/null "$URL/k1.bin?ka" \
    "$URL/k2.bin?ka" "$URL/k3.bin?ka" | awk '{ c += $1; s = s " " $2 + $3 }
    END { print c s }')
wait_sql 3 "select count(*) from requests where query = 'ka'"
expect_eq "kept alive: one connection, each row its own bytes" "$got" \
    "1 $(sql "select group_concat(bytes_out, ' ') from (select bytes_out
    from requests where query = 'ka' order by path)")"

# route_stats counts every row of the last hour in one group, and no
# older row: static files (route NULL) are a group of their own.
sql "insert into requests (ts, route, mode, status, total_us)
    values (unixepoch() - 7200, '/fast', 'cgi', 200, 1)"
expect_eq "route_stats: the static files' group, with its percentiles" \
    "6|0|1|1" "$(sql "select requests, errors, p50_total_us > 0,
    p50_ttfb_us > 0 from route_stats
    where route is null and mode = 'static'")"
expect_eq "route_stats: a row of two hours ago is not counted" 30 \
    "$(sql "select requests from route_stats where route = '/fast'")"
row=$(sql "select (select sum(requests) from route_stats),
    (select count(*) from requests where ts >= unixepoch() - 3600),
    (select count(*) from requests)")
expect_eq "route_stats: its requests add up to the hour's rows (39 of 40)" \
    "39|39|40" "$row"

# Rows are written up to 64 to a statement: each keeps its own fields, in
# the order the requests ended.  24 CGI requests in a row (8 to a
# statement even where one is slow), then 200 static files in one curl
# (well under a millisecond each: however the writer's passes, 200 ms
# apart, cut them, one holds 64 of them).
seq 1 24 | sed "s|.*|$URL/fast/&|" | xargs curl -m 120 -s >/dev/null
for i in $(seq 1 200); do echo "$i" >"$W/www/s$i.txt"; done
seq 1 200 | sed "s|.*|$URL/s&.txt|" | xargs curl -m 120 -s >/dev/null
want=$(seq 1 24 | sed 's|.*|/fast/&|' | tr '\n' ' ')
want="$want$(seq 1 200 | sed 's|.*|/s&.txt|' | tr '\n' ' ' | sed 's/ $//')"
wait_sql 224 "select count(*) from requests where path like '/fast/%'
    or path like '/s%.txt'"
expect_eq "rows written in statements of several keep their order" "$want" \
    "$(sql "select group_concat(path, ' ') from (select path from requests
    where path like '/fast/%' or path like '/s%.txt' order by id)")"
expect_eq "and each its own fields" 24 "$(sql "select count(*) from requests
    where path like '/fast/%' and route = '/fast' and mode = 'cgi'
    and method = 'GET' and status = 200 and bytes_in = 0 and bytes_out > 0
    and queue_us >= 0 and spawn_us > 0 and ttfb_us > 0
    and total_us >= ttfb_us and pid > 0 and exit_status = 0
    and signal is null and user_cpu_us >= 0 and sys_cpu_us >= 0
    and max_rss_kb is null and error is null and connect_us is null
    and worker_requests is null and ts > unixepoch() - 60")"
expect_eq "static rows too" 200 "$(sql "select count(*) from requests
    where path like '/s%.txt' and mode = 'static' and status = 200
    and pid is null and spawn_us is null and error is null")"
# Each row's request id and time are its own: the id's number minus the
# path's is the same on every row of a run, and time never goes back.
expect_eq "and its own request id" "1 1" "$(sql "select count(distinct
    substr(request_id, 2) - replace(replace(path, '/fast/', ''), '.txt', ''))
    from requests where path like '/fast/%'") $(sql "select count(distinct
    substr(request_id, 2) - replace(replace(path, '/s', ''), '.txt', ''))
    from requests where path like '/s%.txt'")"
expect_eq "and its own time" 0 "$(sql "select count(*) from requests a
    join requests b on b.id = a.id + 1 where b.ts < a.ts
    and (a.path like '/fast/%' or a.path like '/s%.txt')")"

# Row retention: 40 rows at most, trimmed by the writer within seconds
# (it trims as it writes: the rows above wanted every row kept).
stop_gateway
{ server_conf; cat <<EOF; } >"$W/cgigate.conf"
timings_max_rows = 40
EOF
start_gateway --config "$W/cgigate.conf"
seq 1 100 | sed "s|.*|$URL/fast|" >"$W/urls"
xargs -n 20 curl -m 120 -s <"$W/urls" >/dev/null
retry 80 sql_is 1 "select count(*) <= 40 from requests"
n=$(sql "select count(*) from requests")
[ "$n" -le 40 ] && ok "timings_max_rows keeps at most 40 rows ($n)" ||
    not_ok "timings_max_rows keeps at most 40 rows ($n)"
expect_eq "and it keeps the newest" 1 \
    "$(sql "select max(id) = (select max(id) from requests) from requests")"
stop_gateway

# Age retention.
{ server_conf; cat <<EOF; } >"$W/cgigate.conf"
timings_max_age = 2s
EOF
start_gateway --config "$W/cgigate.conf"
# (the 40 rows of the first run are older than that by now)
sleep 2.2
curl -s -o /dev/null "$URL/fast"
retry 80 sql_is 0 "select count(*) from requests where ts < unixepoch() - 2"
expect_eq "timings_max_age removes rows older than 2 s" 0 \
    "$(sql "select count(*) from requests where ts < unixepoch() - 2")"
wait_sql 1 "select count(*) from requests"
expect_eq "and keeps the fresh one" 1 "$(sql "select count(*) from requests")"
stop_gateway
finish

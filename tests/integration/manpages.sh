#!/bin/sh
# manpages.sh: the manual pages lint clean, document exactly the options
# and directives the code accepts, and their examples work as printed.
. "$(dirname "$0")/gw.sh"

command -v mandoc >/dev/null || skip "mandoc not installed"
M="$TS/man"
for p in cgigate.8 cgigate.conf.5 cgigate-handlers.7 cgigate-timings.7 \
    cgigate-cluster.7; do
	out=$(mandoc -Tlint -W warning "$M/$p" 2>&1)
	expect_eq "$p lints clean" "" "$out"
done

# Options: --help and cgigate(8) name the same long options.
help=$("$GATEWAY" --help | grep -o -- '--[a-z-]*' | sort -u)
page=$(sed -n 's/.*Fl -\([a-z-]*\).*/--\1/p' "$M/cgigate.8" | sort -u)
expect_eq "cgigate(8) documents exactly the options of --help" \
    "$(echo $help)" "$(echo $page)"

# Directives: the parser's table, as --directives prints it, and the
# entries of cgigate.conf(5), each under its section (Server or Routes),
# are one set of "name/section" pairs.
table=$("$GATEWAY" --directives)
expect_eq "--directives exits 0" 0 "$?"
odd=$(echo "$table" | awk 'NF != 3 || ($2 != "server" && $2 != "route") ||
    $3 == "?"')
expect_eq "every line of --directives is name, section, a known type" "" \
    "$odd"
echo "$table" | awk '{ print $1 "/" $2 }' | sort >"$W/table"
awk '/^\.Sh / { s = "" }
    /^\.Ss / { s = $2 == "Server" ? "server" : $2 == "Routes" ? "route" : "" }
    s != "" && /^\.It Ic [a-z_]* = / { print $3 "/" s }' \
    "$M/cgigate.conf.5" | sort >"$W/documented"
expect_ge "--directives lists the table" 30 "$(wc -l <"$W/table")"
expect_ge "cgigate.conf(5) has its directives" 30 \
    "$(wc -l <"$W/documented")"
expect_eq "no directive twice in one section of the table" "" \
    "$(uniq -d "$W/table")"
expect_eq "every directive of the table is in cgigate.conf(5)" "" \
    "$(comm -23 "$W/table" "$W/documented")"
expect_eq "every directive of cgigate.conf(5) is in the table" "" \
    "$(comm -13 "$W/table" "$W/documented")"

# The example configuration of cgigate.conf(5) is accepted.
awk '/^\.Sh EXAMPLES/ { e = 1 } e && /^\.Bd/ { b = 1; next } b && /^\.Ed/ { exit } b' \
    "$M/cgigate.conf.5" | sed "s|/srv/cgigate/handlers|$H|; s|/srv/cgigate/www|$W/www|;
    s|/var/lib/cgigate/timings.db|$W/ex.db|" >"$W/example.conf"
mkdir -p "$W/www"
out=$("$GATEWAY" --config "$W/example.conf" $ROOTOK --check 2>&1)
expect_eq "cgigate.conf(5)'s example passes --check" 0 "$?"

# Every query of cgigate-timings(7) runs on a real database, with rows.
cat >"$H/hello.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\nhello\n'
EOF
cat >"$H/fail.cgi" <<'EOF'
#!/bin/sh
exit 1
EOF
chmod 755 "$H"/*.cgi
cp "$TB/tests/fixtures/fcgi-fixture" "$H/pool.fcgi" 2>/dev/null
start_gateway --handlers "$H" --www "$W/www" --timings "$W/timings.db"
for u in hello hello fail pool pool missing; do
	curl -s -o /dev/null "$URL/$u"
done
stop_gateway
awk '/^\.Bd -literal/ { q = ""; b = 1; next }
    /^\.Ed/ { if (b && q ~ /^SELECT/) print q; b = 0; next }
    b { q = q (q == "" ? "" : " ") $0 }' "$M/cgigate-timings.7" >"$W/queries"
n=0
while IFS= read -r q; do
	n=$((n + 1))
	out=$(sqlite3 "$W/timings.db" "$q" 2>&1)
	case $out in
	*Error*|*error*) not_ok "query $n runs: $out" ;;
	"") not_ok "query $n returns rows" ;;
	*) ok "query $n of cgigate-timings(7) runs and returns rows" ;;
	esac
	# requests has no index on ts: a query that scans it all would
	# take tens of seconds at 10,000,000 rows.
	plan=$(sqlite3 "$W/timings.db" "explain query plan $q" 2>&1)
	case $plan in
	*"SCAN requests"*) not_ok "query $n scans all of requests: $plan" ;;
	*) ok "query $n reads no more of requests than its window" ;;
	esac
done <"$W/queries"
expect_ge "the page has its queries" 7 "$n"
finish

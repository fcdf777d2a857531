#!/bin/sh
# fastcgi_scripts.sh: a tree of scripts under document_root through one
# FastCGI pool or backend, with real programs that run whatever
# SCRIPT_FILENAME names: php-cgi and fcgiwrap as local pools (behind the
# shell wrappers cgigate-handlers(7) shows), php-fpm as a remote backend.
# script_suffix cuts SCRIPT_NAME from PATH_INFO; --check refuses a
# document_root that cannot apply.
. "$(dirname "$0")/gw.sh"

PHPCGI=$(command -v php-cgi)
FCGIWRAP=$(command -v fcgiwrap || ls /usr/sbin/fcgiwrap 2>/dev/null)
# bootstrap.sh installs all three: a missing one is a failure, not a skip.
for p in php-cgi:"$PHPCGI" fcgiwrap:"$FCGIWRAP" php-fpm:"$FPM"; do
	[ -n "${p#*:}" ] || { not_ok "${p%%:*} is installed (bootstrap.sh)"; finish; }
done

# --- the trees -------------------------------------------------------------
mkdir -p "$W/www" "$W/php/sub" "$W/php/uploads" "$W/php/.git" "$W/cgi/tools"
cat >"$W/php/app.php" <<'EOF'
<?php
echo "app SN=", $_SERVER["SCRIPT_NAME"], " PI=", $_SERVER["PATH_INFO"] ?? "",
    " SF=", $_SERVER["SCRIPT_FILENAME"], " DR=", $_SERVER["DOCUMENT_ROOT"],
    " pid=", getmypid(), "\n";
EOF
cat >"$W/php/sub/other.php" <<'EOF'
<?php
echo "other SN=", $_SERVER["SCRIPT_NAME"], " PI=", $_SERVER["PATH_INFO"] ?? "",
    " ", 6 * 7, " pid=", getmypid(), "\n";
EOF
# An "image" with PHP in it: it must never run, whatever the path says.
echo '<?php echo "EXECUTED\n";' >"$W/php/uploads/pic.jpg"
echo '<?php echo "HIDDEN\n";' >"$W/php/.git/x.php"
echo 'not a script' >"$W/php/readme.txt"
cat >"$W/cgi/hello.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
echo "hello SN=$SCRIPT_NAME PI=$PATH_INFO SF=$SCRIPT_FILENAME Q=$QUERY_STRING"
EOF
cat >"$W/cgi/tools/count.cgi" <<'EOF'
#!/bin/sh
printf 'Status: 201 Counted\nContent-Type: text/plain\n\n'
echo "count $(wc -c) $PATH_INFO"
EOF
chmod 755 "$W/cgi/hello.cgi" "$W/cgi/tools/count.cgi"

# The wrappers, as cgigate-handlers(7) gives them: each program finds
# its listening socket on descriptor 0.
printf '#!/bin/sh\nexec php-cgi\n' >"$H/php.fcgi"
printf '#!/bin/sh\nexec %s\n' "$FCGIWRAP" >"$H/cgi.fcgi"
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nhi\\n"\n' \
    >"$H/hello.cgi"
chmod 755 "$H/php.fcgi" "$H/cgi.fcgi" "$H/hello.cgi"

fpm_port=$(free_port)
start_fpm "$fpm_port" || not_ok "php-fpm did not start"

# --- document_root alone: the whole path below the route is the script ----
# Before, a local pool was told its own wrapper was the script: php-cgi
# sent the wrapper's text, fcgiwrap ran the wrapper and hung.
{ server_conf; cat <<EOF; } >"$W/whole.conf"
[route /php]
document_root = $W/php
max_workers = 1
start_timeout = 3s
timeout = 5s
[route /cgi]
document_root = $W/cgi
start_timeout = 3s
timeout = 5s
[route /fpm]
fastcgi = tcp:127.0.0.1:$fpm_port
document_root = $W/php
timeout = 5s
EOF
start_gateway --config "$W/whole.conf"
expect_eq "php-cgi pool runs the script under document_root" \
    "app SN=/php/app.php PI= SF=$W/php/app.php DR=$W/php" \
    "$(curl -s -m 10 "$URL/php/app.php" | sed 's/ pid=.*//')"
expect_eq "fcgiwrap pool runs the CGI script under document_root" \
    "hello SN=/cgi/hello.cgi PI= SF=$W/cgi/hello.cgi Q=x=1" \
    "$(curl -s -m 10 "$URL/cgi/hello.cgi?x=1")"
expect_eq "php-fpm runs it too" \
    "app SN=/fpm/app.php PI= SF=$W/php/app.php DR=$W/php" \
    "$(curl -s -m 10 "$URL/fpm/app.php" | sed 's/ pid=.*//')"
stop_gateway

# --- script_suffix: SCRIPT_NAME up to the script, PATH_INFO after it ------
{ server_conf; cat <<EOF; } >"$W/split.conf"
[route /php]
document_root = $W/php
script_suffix = .php
max_workers = 1
timeout = 5s
[route /cgi]
document_root = $W/cgi/
script_suffix = .cgi, .sh
timeout = 5s
[route /fpm]
fastcgi = tcp:127.0.0.1:$fpm_port
document_root = $W/php
script_suffix = .php
timeout = 5s
EOF
out=$("$GATEWAY" --config "$W/split.conf" $ROOTOK --check 2>&1)
expect_eq "--check accepts document_root and script_suffix on FastCGI routes" \
    0 "$?"
start_gateway --config "$W/split.conf"

# (a) php-cgi: two scripts of one tree, one worker, PATH_INFO split off.
a=$(curl -s -m 10 "$URL/php/app.php/extra/x")
expect_eq "php-cgi: SCRIPT_NAME, PATH_INFO, SCRIPT_FILENAME, DOCUMENT_ROOT" \
    "app SN=/php/app.php PI=/extra/x SF=$W/php/app.php DR=$W/php" \
    "${a% pid=*}"
b=$(curl -s -m 10 "$URL/php/sub/other.php/y")
expect_eq "php-cgi: a second script in a subdirectory" \
    "other SN=/php/sub/other.php PI=/y 42" "${b% pid=*}"
expect_eq "php-cgi: both from the route's one worker" "${a#* pid=}" \
    "${b#* pid=}"
expect_eq "php-cgi: no PATH_INFO" "app SN=/php/app.php PI= SF=$W/php/app.php DR=$W/php" \
    "$(curl -s -m 10 "$URL/php/app.php" | sed 's/ pid=.*//')"
body=$(curl -s -m 10 -w ' %{http_code}' "$URL/php/uploads/pic.jpg/x.php")
expect_eq "php-cgi: a script that does not exist is a 404 from cgigate" \
    "404" "${body##* }"
expect_absent "php-cgi: and php-cgi never goes looking for another file" \
    "EXECUTED" "$body"
expect_log "the missing script is logged" \
    "GET /php/uploads/pic.jpg/x.php -> 404: no such script under document_root"
expect_eq "php-cgi: no script in the path -> 404" 404 \
    "$(http_code "$URL/php/readme.txt")"
body=$(curl -s -m 10 -w ' %{http_code}' "$URL/php/.git/x.php")
expect_eq "php-cgi: a hidden directory is never a script's -> 403" 403 \
    "${body##* }"
expect_absent "php-cgi: and it does not run" "HIDDEN" "$body"
expect_eq "php-cgi: an encoded dot segment never leaves the root" 403 \
    "$(http_code --path-as-is "$URL/php/%2e%2e/php/app.php")"

# (b) fcgiwrap: a tree of CGI scripts, bodies and Status included.
expect_eq "fcgiwrap: SCRIPT_NAME, PATH_INFO, SCRIPT_FILENAME, QUERY_STRING" \
    "hello SN=/cgi/hello.cgi PI=/a/b SF=$W/cgi/hello.cgi Q=q=1" \
    "$(curl -s -m 10 "$URL/cgi/hello.cgi/a/b?q=1")"
out=$(curl -s -m 10 -D "$W/h" --data-binary 12345 "$URL/cgi/tools/count.cgi/z")
expect_eq "fcgiwrap: a script in a subdirectory reads the body" \
    "count 5 /z" "$out"
expect_contains "fcgiwrap: its Status comes through" "201 Counted" \
    "$(cat "$W/h")"
expect_eq "fcgiwrap: a missing script -> 404" 404 \
    "$(http_code "$URL/cgi/nope.cgi/a")"

# (c) php-fpm: index.php/route style paths.
expect_eq "php-fpm: /fpm/app.php/extra splits at the script" \
    "app SN=/fpm/app.php PI=/extra SF=$W/php/app.php DR=$W/php" \
    "$(curl -s -m 10 "$URL/fpm/app.php/extra" | sed 's/ pid=.*//')"
expect_eq "php-fpm: a script in a subdirectory" \
    "other SN=/fpm/sub/other.php PI=/y/z 42" \
    "$(curl -s -m 10 "$URL/fpm/sub/other.php/y/z" | sed 's/ pid=.*//')"
body=$(curl -s -m 10 -w ' %{http_code}' "$URL/fpm/uploads/pic.jpg/x.php")
expect_absent "php-fpm: a non-PHP file never runs as PHP" "EXECUTED" "$body"
stop_gateway

# --- where document_root cannot apply ----------------------------------------
{ server_conf; cat <<EOF; } >"$W/cgiroot.conf"
[route /hello]
timeout = 5s
document_root = $W/php
EOF
out=$("$GATEWAY" --config "$W/cgiroot.conf" $ROOTOK --check 2>&1)
rc=$?
[ $rc -ne 0 ] && ok "--check refuses document_root on a CGI route ($rc)" ||
    not_ok "--check refuses document_root on a CGI route"
expect_contains "and says where and why" \
    "$W/cgiroot.conf:7: document_root: applies to FastCGI routes only" "$out"
{ server_conf; cat <<EOF; } >"$W/cgimode.conf"
[route /php]
mode = cgi
document_root = $W/php
EOF
out=$("$GATEWAY" --config "$W/cgimode.conf" --listen 127.0.0.1:0 2>&1)
rc=$?
[ $rc -ne 0 ] && ok "document_root with mode = cgi: cgigate refuses to start" ||
    not_ok "document_root with mode = cgi: cgigate refuses to start"
expect_contains "with file:line: key: reason" \
    "$W/cgimode.conf:7: document_root: applies to FastCGI routes only" "$out"
{ server_conf; cat <<EOF; } >"$W/badsuffix.conf"
[route /php]
document_root = $W/php
script_suffix = php
EOF
out=$("$GATEWAY" --config "$W/badsuffix.conf" $ROOTOK --check 2>&1)
rc=$?
[ $rc -ne 0 ] && ok "--check refuses a bad script_suffix" ||
    not_ok "--check refuses a bad script_suffix"
expect_contains "with file:line: key: reason" \
    "$W/badsuffix.conf:7: script_suffix: a suffix is a dot and a name" "$out"
{ server_conf; cat <<EOF; } >"$W/noroot.conf"
[route /php]
script_suffix = .php
EOF
out=$("$GATEWAY" --config "$W/noroot.conf" $ROOTOK --check 2>&1)
expect_contains "script_suffix without document_root is refused" \
    "$W/noroot.conf:6: script_suffix: needs a document_root" "$out"
kill "$FPM_PID"
wait "$FPM_PID" 2>/dev/null
finish

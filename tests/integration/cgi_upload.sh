#!/bin/sh
# cgi_upload.sh: request bodies reach a CGI handler whole and at wire
# speed, Content-Length and chunked, whether the handler reads all its
# input before it writes or writes first; a client that pauses mid-body
# does not hold back what the handler already wrote; git push and clone
# through git-http-backend.  The routes' timeout (20 s) is what a body
# relayed at 64 KiB/s (16 KiB per 250 ms) runs into: 10 MB took 160 s.
. "$(dirname "$0")/gw.sh"

command -v cksum >/dev/null || skip "no cksum"
BACKEND=/usr/lib/git-core/git-http-backend

# Reads everything, then answers with its checksum.
cat >"$H/sum.cgi" <<'EOT'
#!/bin/sh
s=$(cksum)
printf 'Content-Type: text/plain\r\n\r\n%s\n' "$s"
EOT
# Sends its header block first, then reads.
cat >"$H/early.cgi" <<'EOT'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\nreading\n'
cksum
EOT
# Takes the first 50,000 bytes, says so a moment later (when a pump that
# reads the body in blocking 16 KiB pieces is already waiting for the
# next one), then sums the rest.
cat >"$H/stage.cgi" <<'EOT'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
dd bs=50000 count=1 iflag=fullblock of=/dev/null 2>/dev/null
sleep 1
echo got-first
cksum
EOT
# Never reads its input.
cat >"$H/deaf.cgi" <<'EOT'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\nnot listening\n'
EOT
cat >"$H/git.cgi" <<EOT
#!/bin/sh
exec $BACKEND
EOT
chmod +x "$H"/*.cgi
mkdir -p "$W/www" "$W/repos"
{
	server_conf
	printf '[route /]\ntimeout = 20s\nmax_body = 64M\n'
	printf '[route /small]\nmax_body = 1M\n'
	# a handler that answers while its body still streams in
	printf '[route /stage]\nrequest_buffering = no\n'
	printf '[route /git]\nenv = GIT_PROJECT_ROOT=%s\n' "$W/repos"
	printf 'env = GIT_HTTP_EXPORT_ALL=1\n'
} >"$W/gw.conf"
mkdir -p "$H/small"
cp "$H/sum.cgi" "$H/small/sum.cgi"
start_gateway --config "$W/gw.conf"

head -c 10000000 /dev/urandom >"$W/10m"
head -c 200000 /dev/urandom >"$W/200k"
want=$(cksum <"$W/10m")

post() {	# route [curl options]
	r=$1
	shift
	curl -s -m 60 -H 'Expect:' "$@" "$URL/$r"
}

expect_eq "10 MB, Content-Length, read before writing" "$want" \
    "$(post sum --data-binary @"$W/10m")"
expect_eq "10 MB, chunked, read before writing" "$want" \
    "$(post sum -H 'Transfer-Encoding: chunked' --data-binary @"$W/10m")"
expect_eq "10 MB, Content-Length, header first" "reading
$want" "$(post early --data-binary @"$W/10m")"
expect_eq "10 MB, chunked, header first" "reading
$want" "$(post early -H 'Transfer-Encoding: chunked' \
    --data-binary @"$W/10m")"
expect_eq "a small body sent with the request head" \
    "$(printf 'a=1' | cksum)" "$(post sum -d 'a=1')"
expect_eq "200 KB, Content-Length" "$(cksum <"$W/200k")" \
    "$(post sum --data-binary @"$W/200k")"
expect_eq "a handler that never reads its input" "not listening" \
    "$(post deaf --data-binary @"$W/10m")"
head -c 1100000 "$W/10m" >"$W/1100k"
expect_eq "chunked past max_body" 413 \
    "$(post small/sum -o /dev/null -w '%{http_code}' \
    -H 'Transfer-Encoding: chunked' --data-binary @"$W/1100k")"

# A client that stops after 100,000 bytes until it sees the handler's
# "got-first": that line must reach it while the body is unfinished.
port=${URL##*:}
for framing in length chunked; do
	out=$("$TB/tests/fixtures/pauser" "$port" /stage "$W/200k" 100000 \
	    got-first "$framing")
	rc=$?
	expect_eq "output relayed while the client pauses ($framing)" 0 "$rc"
	expect_contains "the paused body arrives whole ($framing)" \
	    "$(tail -c 150000 "$W/200k" | cksum)" "$out"
done

expect_eq "one row per upload, bytes_in counted" 10000000 \
    "$(sql "select max(bytes_in) from requests where route = '/sum'")"

# git push of a 30 MB blob (git sends a large pack chunked), then clone.
if [ ! -x "$BACKEND" ] || ! command -v git >/dev/null; then
	echo "# git: not installed"
	not_ok "git and git-http-backend installed (bootstrap.sh)"
	finish
fi
export GIT_CONFIG_NOSYSTEM=1 HOME="$W" GIT_TERMINAL_PROMPT=0
git init -q --bare "$W/repos/r.git"
git -C "$W/repos/r.git" config http.receivepack true
git init -q "$W/src"
head -c 30000000 /dev/urandom >"$W/src/blob"
git -C "$W/src" add blob
git -C "$W/src" -c user.name=t -c user.email=t@t commit -q -m blob
if git -C "$W/src" push -q "$URL/git/r.git" HEAD:refs/heads/main \
    >"$W/push.err" 2>&1; then
	ok "git push of a 30 MB blob"
else
	not_ok "git push of a 30 MB blob: $(tail -n 3 "$W/push.err")"
fi
if git clone -q -b main "$URL/git/r.git" "$W/dst" >"$W/clone.err" 2>&1 &&
    cmp -s "$W/src/blob" "$W/dst/blob"; then
	ok "git clone gives the blob back"
else
	not_ok "git clone gives the blob back: $(tail -n 3 "$W/clone.err")"
fi
expect_eq "the push came chunked and whole" "$(git -C "$W/src" rev-parse HEAD)" \
    "$(git -C "$W/repos/r.git" rev-parse main 2>/dev/null)"

finish

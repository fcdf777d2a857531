#!/bin/sh
# The smallest CGI handler: a header block, a blank line, the body.
printf 'Content-Type: text/plain\r\n\r\n'
echo "Hello from $SCRIPT_NAME"

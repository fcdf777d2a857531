#!/bin/sh
# Echoes the request body back, with its type.
printf 'Content-Type: %s\r\n\r\n' "${CONTENT_TYPE:-application/octet-stream}"
exec cat

#!/bin/sh
# env.sh - the example CGI/1.1 script (RFC 3875): GET or POST /env[/...]
# prints the meta-variables the server passed, then the request body.
#
#   $ curl 'http://localhost:8080/env/x?a=1' --data 'hello'
#
# A CGI script prints a header block, an empty line, then the body. Its
# environment holds only the request's meta-variables (and PATH), its
# stdin is the request body, and what it writes to stderr goes to the
# server's error log.
printf 'Content-Type: text/plain; charset=utf-8\r\n'
printf 'Cache-Control: no-store\r\n'
printf '\r\n'
echo "CGI environment:"
env | LC_ALL=C sort
if [ "${CONTENT_LENGTH:-0}" -gt 0 ]; then
    echo "body:"
    cat
    echo
fi

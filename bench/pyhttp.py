#!/usr/bin/python3
"""pyhttp.py - benchmark peer: Python's http.server with ThreadingHTTPServer
(one thread per connection, like ours) and HTTP/1.1, so that keep-alive
works. Serves the files of DIR; the access log goes to standard error,
which bench/http.sh sends to a file. Started by bench/http.sh, pinned to
one core like our server.

    usage: /usr/bin/python3 pyhttp.py PORT DIR
"""
import functools
import http.server
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # socketserver's own switch for TCP_NODELAY: http.server writes the
    # header and the body in separate calls, which with Nagle's algorithm
    # and delayed ACKs would cost 40 ms per response and measure nothing.
    disable_nagle_algorithm = True


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024  # the default of 5 would drop wrk's connections


def main():
    port, root = int(sys.argv[1]), sys.argv[2]
    handler = functools.partial(Handler, directory=root)
    with Server(("127.0.0.1", port), handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

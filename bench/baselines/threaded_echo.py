#!/usr/bin/env python3
"""Baseline for bench/run: the textbook echo server, one thread per connection, from socketserver.

Usage: threaded_echo.py PORT   (listens on 127.0.0.1 only; SIGTERM stops it)
"""
import socket
import socketserver
import sys


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except (ConnectionResetError, BrokenPipeError):
            pass  # the load generator going away is not a server error


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True  # SIGTERM must not wait for a thousand idle connection threads
    allow_reuse_address = True
    # The default backlog of 5 would turn a burst of connects into one-second SYN retries.
    request_queue_size = 4096


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with EchoServer(("127.0.0.1", int(sys.argv[1])), EchoHandler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()

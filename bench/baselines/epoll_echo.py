#!/usr/bin/env python3
"""Baseline for bench/run: a single-process, single-threaded epoll echo server, the classic
answer to thread-per-connection, and the loop that corral runs in each of its workers.

Usage: epoll_echo.py PORT   (listens on 127.0.0.1 only; SIGTERM stops it)
"""
import select
import socket
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    listener = socket.create_server(("127.0.0.1", int(sys.argv[1])), backlog=4096)
    listener.setblocking(False)
    poller = select.epoll()
    poller.register(listener.fileno(), select.EPOLLIN)
    connections = {}  # fd -> socket
    unsent = {}  # fd -> bytes the peer has not taken yet; reading pauses until they are sent

    def close(fd):
        poller.unregister(fd)
        connections.pop(fd).close()
        unsent.pop(fd, None)

    def send(fd, data):
        try:
            sent = connections[fd].send(data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            unsent[fd] = data[sent:]
            poller.modify(fd, select.EPOLLOUT)
        elif fd in unsent:
            del unsent[fd]
            poller.modify(fd, select.EPOLLIN)

    while True:
        for fd, events in poller.poll():
            if fd == listener.fileno():
                while True:
                    try:
                        connection, _ = listener.accept()
                    except BlockingIOError:
                        break
                    connection.setblocking(False)
                    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    connections[connection.fileno()] = connection
                    poller.register(connection.fileno(), select.EPOLLIN)
                continue
            try:
                if fd in unsent:
                    send(fd, unsent[fd])
                    continue
                data = connections[fd].recv(65536)
                if data:
                    send(fd, data)
                else:
                    close(fd)
            except BlockingIOError:
                pass
            except OSError:
                close(fd)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Memory of a server holding idle keep-alive connections, for bench/compare.sh.

Usage: idle_conns.py PORT PID COUNT PATH [HEADER ...]

Opens COUNT connections to 127.0.0.1:PORT, sends one `GET PATH` on each (with the
extra `Name: value` headers given), reads the whole response, and keeps every
connection open and idle. Then it waits a moment and prints one line:

    rss_kb=<VmRSS of PID> open=<connections still open> failed=<requests not answered 200>

and closes them all. Exits 1 if a connection could not be opened at all.
"""
import socket
import sys
import time


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def read_response(sock):
    """Reads one HTTP/1.1 response with a Content-Length body; returns its status."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return status


def still_open(sock):
    """True if the peer has not closed the connection (nothing to read, no EOF)."""
    sock.setblocking(False)
    try:
        data = sock.recv(1, socket.MSG_PEEK)
        return len(data) > 0
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    port, pid, count, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    headers = "".join(h + "\r\n" for h in sys.argv[5:])
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}\r\n").encode()
    socks, failed = [], 0
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            socks.append(s)
            s.sendall(request)
            if read_response(s) != 200:
                failed += 1
        time.sleep(1.0)  # let the server settle; the connections stay idle
        rss = vm_rss_kb(pid)
        open_now = sum(1 for s in socks if still_open(s))
        print(f"rss_kb={rss} open={open_now} failed={failed}")
    except OSError as e:
        print(f"idle_conns: {e} after {len(socks)} connections", file=sys.stderr)
        return 1
    finally:
        for s in socks:
            s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

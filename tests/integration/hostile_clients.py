#!/usr/bin/env python3
"""Hostile clients against one of heteroscale's HTTP servers, each attack while ordinary
requests are measured. Prints one line per attack:

    ATTACK <tab> OUTCOME <tab> ORDINARY_OK/ORDINARY_SENT <tab> SLOWEST_ORDINARY_S

OUTCOME is what the attacker got: an HTTP status, "closed" (the server closed without an
answer), or "open" (still nothing). The caller decides what each must be.

Usage: hostile_clients.py HOST PORT METHOD PATH BODY_OR_- ATTACK...
Attacks: slowloris[:N] big_header many_fields big_body bad_chunked truncated_json
         invalid_utf8 no_reader[:PATH] connect_flood
Only HOST is ever contacted; the tests pass 127.0.0.1. Environment: HOSTILE_AUTH, an
Authorization value the attacks with a body carry (so that they reach a body parser behind a
token check); HOSTILE_PATH, where those attacks go (default PATH).
"""
import http.client
import os
import resource
import socket
import sys
import threading
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])
O_METHOD, O_PATH, O_BODY = sys.argv[3], sys.argv[4], (None if sys.argv[5] == "-" else sys.argv[5])
ATTACKS = sys.argv[6:]
AUTH = os.environ.get("HOSTILE_AUTH", "").encode()
A_PATH = os.environ.get("HOSTILE_PATH", O_PATH)

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def ordinary(timeout=10.0):
    """One ordinary request on a fresh connection: (ok, seconds)."""
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection(HOST, PORT, timeout=timeout)
        headers = {"content-type": "application/json"} if O_BODY else {}
        c.request(O_METHOD, O_PATH, body=O_BODY, headers=headers)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status == 200, time.monotonic() - t0
    except OSError:
        return False, time.monotonic() - t0


def measure(n=20):
    ok, worst = 0, 0.0
    for _ in range(n):
        good, took = ordinary()
        ok += good
        worst = max(worst, took)
    return ok, n, worst


def dial():
    s = socket.create_connection((HOST, PORT), timeout=10)
    s.settimeout(10)
    return s


def answer(s, wait=15.0):
    """The status the server sent on s, "closed", or "open" if nothing came within wait."""
    s.settimeout(wait)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                return "closed" if not data else data.split(b" ")[1].decode()
            data += chunk
    except socket.timeout:
        return "open"
    except OSError:
        return "closed"
    parts = data.split(b" ")
    return parts[1].decode() if len(parts) > 1 else "closed"


def send_raw(raw, wait=15.0):
    s = dial()
    try:
        s.sendall(raw)
    except OSError:
        return "closed"
    out = answer(s, wait)
    s.close()
    return out


def under_fire(attack_once):
    """Runs attack_once in a loop on a thread while 20 ordinary requests are measured; returns
    the attack's first outcome and the measurement."""
    outcomes, stop = [], threading.Event()

    def loop():
        while not stop.is_set():
            outcomes.append(attack_once())

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    while not outcomes and t.is_alive():  # the attack has run once before measuring
        time.sleep(0.01)
    m = measure()
    stop.set()
    t.join(timeout=60)
    return (outcomes[0] if outcomes else "none"), m


def req(extra_headers=b"", body=b"", method=b"POST", path=None):
    path = (path or A_PATH).encode()
    if AUTH:
        extra_headers += b"Authorization: " + AUTH + b"\r\n"
    return (method + b" " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + extra_headers + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def slowloris(n):
    held = []
    for _ in range(n):
        s = socket.create_connection((HOST, PORT), timeout=10)
        s.sendall(b"POST " + O_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        held.append(s)
    m = measure()
    # The header deadline answers the first of them (they are never finished).
    out = answer(held[0], wait=30)
    for s in held:
        s.close()
    return out, m


def big_header():
    return send_raw(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (100 << 10) + b"\r\n\r\n")


def many_fields():
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(200))
    return send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")


def big_body():
    s = dial()
    s.sendall(b"POST " + O_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: "
              b"application/json\r\nContent-Length: %d\r\n\r\n" % (64 << 20))
    try:
        s.sendall(b"{" * (1 << 20))
    except OSError:
        pass
    out = answer(s)
    s.close()
    return out


def bad_chunked():
    return send_raw(b"POST " + O_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                    b"chunked\r\nContent-Type: application/json\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n")


def truncated_json():
    return send_raw(req(body=b'{"model": "llama", "prompt": "a truncated bo'))


def invalid_utf8():
    return send_raw(req(body=b'{"model": "llama", "prompt": "\xff\xfe\xc3(", "max_tokens": 2}'))


def no_reader(path):
    """A streamed completion whose client never reads: the server must not stall on it."""
    body = b'{"model": "llama", "prompt": "never read", "max_tokens": 4000, "stream": true}'
    s = dial()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(req(body=body, path=path))
    return s


def connect_flood():
    s = dial()
    s.close()
    return "closed"


def main():
    for spec in ATTACKS:
        name, _, arg = spec.partition(":")
        if name == "slowloris":
            out, m = slowloris(int(arg or 5000))
        elif name == "no_reader":
            held = [no_reader(arg or O_PATH) for _ in range(20)]
            m = measure()
            out = "open" if all(s.fileno() >= 0 for s in held) else "closed"
            for s in held:
                s.close()
        else:
            out, m = under_fire(globals()[name])
        print("%s\t%s\t%d/%d\t%.3f" % (name, out, m[0], m[1], m[2]), flush=True)


main()

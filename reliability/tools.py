#!/usr/bin/env python3
"""Helpers for reliability/test.sh: fault servers, raw-socket abuse, scrape loops.

  tools.py serve HTTP_PORT BLACKHOLE_PORT TOKEN   fault HTTP server + a TCP port that never answers
  tools.py malformed PORT                         malformed requests; the server must stay up
  tools.py hupstorm URL PID SCRAPES SIGNALS       scrapes while sending SIGHUPs; all must succeed
  tools.py value URL NAME [LABEL=VALUE ...]       print one sample's value (nan when absent)
  tools.py freshness URL                          print collector last-success timestamps as JSON

Everything binds to 127.0.0.1 and every loop and wait is bounded.
"""
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from mitratest import stub  # noqa: E402

BIG_BYTES = 100 * 1024 * 1024


def log(message):
    print(f"tools: {message}", file=sys.stderr, flush=True)


def blackhole(port, stop):
    """Accepts TCP connections and never says a word (a database that hangs)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)
    server.settimeout(0.5)
    held = []
    while not stop.is_set():
        try:
            connection, _ = server.accept()
            held.append(connection)
            # Bounded: drop the oldest when many pile up.
            if len(held) > 200:
                held.pop(0).close()
        except socket.timeout:
            continue


def serve(http_port, blackhole_port, token):
    stop = threading.Event()
    threading.Thread(target=blackhole, args=(blackhole_port, stop), daemon=True).start()
    log(f"fault server on 127.0.0.1:{http_port}, blackhole on 127.0.0.1:{blackhole_port}")
    stub.serve({
        # The check sends the token from ${env:...}: proves the secret is live in the exporter.
        "GET /ok": stub.require_bearer(token, stub.reply(200, b'{"status": "ok"}\n', "text/plain")),
        "GET /hang": stub.hang(30),
        "GET /reset": stub.reset(),
        "GET /drip": stub.drip(declared=1000, count=150, every=0.2),  # 30 s at most
        "GET /big": stub.big(BIG_BYTES),
    }, port=http_port, http11=True, on_stop=stop.set)


def http_get(port, path="/-/healthy", timeout=3.0):
    """A plain GET on a fresh connection: (status, body) or raises."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
        return status, data


def send_raw(port, payload, read_seconds=3.0, shut_write=False):
    """Sends bytes, reads what comes back within read_seconds; returns the reply's first line."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=read_seconds) as s:
            try:
                s.sendall(payload)
                if shut_write:
                    s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                return "closed while sending"
            reply = b""
            deadline = time.monotonic() + read_seconds
            try:
                while time.monotonic() < deadline and b"\r\n" not in reply:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
            except (socket.timeout, ConnectionResetError):
                pass
            return reply.split(b"\r\n", 1)[0].decode("latin-1") or "closed"
    except OSError as error:
        return f"error {error}"


def malformed(port):
    failures = []

    def healthy(context):
        try:
            status, _ = http_get(port)
            if status != 200:
                failures.append(f"{context}: /-/healthy answered {status}")
        except OSError as error:
            failures.append(f"{context}: /-/healthy failed: {error}")

    cases = {
        "garbage": os.urandom(8192),
        "garbage-crlf": b"\x00\xff\r\n\r\n" * 100,
        "bad request line": b"FOO BAR BAZ QUX\r\n\r\n",
        "no version": b"GET\r\n\r\n",
        "http/9.9": b"GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n",
        "nul in path": b"GET /met\x00rics HTTP/1.1\r\nHost: x\r\n\r\n",
        "huge header 1MB": b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n",
        "10k headers": b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(10000)) + b"\r\n",
        "huge uri": b"GET /" + b"m" * (1 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "duplicate content-length": b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabc",
        "bad chunked": b"POST /-/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nqq\r\n",
        "negative length": b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "huge length": b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "half close": b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "pipelined 200": b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n" * 200,
    }
    for name, payload in cases.items():
        reply = send_raw(port, payload, shut_write=(name == "half close"))
        log(f"malformed {name!r}: {reply[:60]!r}")
        healthy(name)

    # Slowloris: many connections trickling a request header, held for a while; others
    # must still be served promptly.
    sockets = []
    for _ in range(200):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            sockets.append(s)
        except OSError as error:
            failures.append(f"slowloris: connect failed: {error}")
            break
    slow_answers = []
    for second in range(8):
        for s in list(sockets):
            try:
                s.sendall(b"X-Slow-%d: y\r\n" % second)
            except OSError:
                sockets.remove(s)
        started = time.monotonic()
        try:
            status, _ = http_get(port, "/metrics", timeout=3)
            slow_answers.append(time.monotonic() - started)
            if status != 200:
                failures.append(f"slowloris: /metrics answered {status}")
        except OSError as error:
            failures.append(f"slowloris: /metrics failed while {len(sockets)} slow connections open: {error}")
        time.sleep(1)
    log(f"slowloris: {len(sockets)} slow connections still open after 8 s; /metrics answered in "
        f"max {max(slow_answers or [0]) * 1000:.0f} ms")
    for s in sockets:
        s.close()
    healthy("after slowloris")
    for failure in failures:
        print(f"FAIL malformed: {failure}")
    return 1 if failures else 0


def scrape(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode("utf-8", "replace")


def hupstorm(url, pid, scrapes, signals):
    failures = []
    stop = threading.Event()
    sent = [0]

    def signaller():
        while not stop.is_set() and sent[0] < signals:
            try:
                os.kill(pid, signal.SIGHUP)
            except ProcessLookupError:
                failures.append("exporter exited during the SIGHUP storm")
                return
            sent[0] += 1
            time.sleep(0.01)

    thread = threading.Thread(target=signaller, daemon=True)
    thread.start()
    index = 0
    deadline = time.monotonic() + 120
    # Scrape until both the scrapes and the signals are done (bounded by the deadline).
    while (index < scrapes or thread.is_alive()) and time.monotonic() < deadline:
        index += 1
        try:
            status, body = scrape(url)
            if status != 200 or "mitra_exporter_build_info" not in body:
                failures.append(f"scrape {index}: status {status}, {len(body)} bytes")
        except Exception as error:  # any failure counts
            failures.append(f"scrape {index}: {error}")
    stop.set()
    thread.join(5)
    log(f"hupstorm: {index} scrapes, {sent[0]} SIGHUPs, {len(failures)} failures")
    for failure in failures[:20]:
        print(f"FAIL hupstorm: {failure}")
    return 1 if failures else 0


def parse_samples(text):
    """Yields (name, {label: value}, value) from text format 0.0.4."""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_end = len(line)
        for i, c in enumerate(line):
            if c in "{ ":
                name_end = i
                break
        name = line[:name_end]
        labels = {}
        rest = line[name_end:]
        if rest.startswith("{"):
            i = 1
            while i < len(rest) and rest[i] != "}":
                eq = rest.index("=", i)
                key = rest[i:eq]
                i = eq + 2
                value = ""
                while rest[i] != '"':
                    if rest[i] == "\\":
                        value += {"n": "\n", "\\": "\\", '"': '"'}.get(rest[i + 1], rest[i + 1])
                        i += 2
                    else:
                        value += rest[i]
                        i += 1
                labels[key] = value
                i += 1
                if i < len(rest) and rest[i] == ",":
                    i += 1
            rest = rest[i + 1:]
        yield name, labels, float(rest.strip().split(" ")[0])


def value(url, name, matchers):
    wanted = dict(m.split("=", 1) for m in matchers)
    try:
        _, body = scrape(url)
    except Exception:
        print("nan")
        return 0
    for sample_name, labels, number in parse_samples(body):
        if sample_name == name and all(labels.get(k) == v for k, v in wanted.items()):
            print(repr(number))
            return 0
    print("nan")
    return 0


def freshness(url):
    _, body = scrape(url)
    result = {labels["collector"]: number for name, labels, number in parse_samples(body)
              if name == "mitra_exporter_collector_last_success_timestamp_seconds"}
    print(json.dumps(result, sort_keys=True))
    return 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = argv[1], argv[2:]
    if command == "serve":
        serve(int(args[0]), int(args[1]), args[2])
        return 0
    if command == "malformed":
        return malformed(int(args[0]))
    if command == "hupstorm":
        return hupstorm(args[0], int(args[1]), int(args[2]), int(args[3]))
    if command == "value":
        return value(args[0], args[1], args[2:])
    if command == "freshness":
        return freshness(args[0])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""The one stub HTTP server of the scripts: each test gives it the routes it needs.

    from mitratest import stub
    stub.serve({"GET /health": stub.reply(200, b'{"status":"ok"}', "application/json"),
                "POST *": stub.record_json("/tmp/hooks.jsonl")}, port=0, port_file="/tmp/port")

A route key is "METHOD PATH" (PATH without the query; "*" matches any path); the value is a
responder, a function of the request handler. Anything unrouted answers 404. Responders:
reply, require_bearer, hang, reset, drip, big, record_json. Binds 127.0.0.1 unless told
otherwise; SIGTERM shuts it down cleanly. Every wait inside is bounded.
"""

import json
import signal
import socket
import ssl
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def reply(status=200, body=b"", content_type=None, headers=None):
    """A fixed answer."""

    def respond(handler):
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    return respond


def require_bearer(token, inner):
    """inner when the request carries `Authorization: Bearer TOKEN`, else 401."""
    refuse = reply(401, b"missing token\n", "text/plain")

    def respond(handler):
        (inner if handler.headers.get("Authorization") == f"Bearer {token}" else refuse)(handler)

    return respond


def hang(seconds=30.0):
    """Reads the request and says nothing for SECONDS, then closes."""

    def respond(handler):
        time.sleep(seconds)
        handler.close_connection = True

    return respond


def reset():
    """Closes the connection with a TCP reset (SO_LINGER 0) before any answer."""

    def respond(handler):
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
        handler.close_connection = True

    return respond


def drip(declared=1000, count=150, every=0.2):
    """Declares DECLARED bytes and sends one byte every EVERY seconds, COUNT times at most."""

    def respond(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        for _ in range(min(count, declared)):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(every)
        handler.close_connection = True

    return respond


def big(size, chunk=1024 * 1024):
    """A 200 answer of SIZE bytes, sent in chunks."""

    def respond(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        block = b"y" * chunk
        sent = 0
        while sent < size:
            part = block[: min(chunk, size - sent)]
            handler.wfile.write(part)
            sent += len(part)
        handler.close_connection = True

    return respond


def record_json(path):
    """Appends every request body to PATH as one JSON line {"received", "path", "payload"}
    (payload is the parsed JSON, or {"unparsable": text}) and answers 200 with no body."""
    lock = threading.Lock()
    empty = reply(200)

    def respond(handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {"unparsable": body.decode("utf-8", "replace")}
        line = json.dumps({"received": time.time(), "path": handler.path, "payload": payload})
        with lock, open(path, "a") as handle:
            handle.write(line + "\n")
        empty(handler)

    return respond


class _Handler(BaseHTTPRequestHandler):
    routes = {}

    def log_message(self, *args):
        pass

    def _dispatch(self):
        path = self.path.split("?", 1)[0]
        responder = self.routes.get(f"{self.command} {path}") or self.routes.get(f"{self.command} *")
        try:
            (responder or reply(404, b"not found\n", "text/plain"))(self)
        except (BrokenPipeError, ConnectionResetError, OSError):
            # The client went away (the exporter's timeout): nothing to answer any more.
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(routes, port=0, host="127.0.0.1", tls=None, http11=False, backlog=None):
    """The server, bound and not yet serving. tls is (certificate file, key file)."""
    handler = type("StubHandler", (_Handler,), {
        "routes": dict(routes),
        "protocol_version": "HTTP/1.1" if http11 else "HTTP/1.0",
    })
    server_class = _Server
    if backlog:
        # The default backlog of 5 drops connections when a thousand checks fire at once.
        server_class = type("StubServer", (_Server,), {"request_queue_size": backlog})
    server = server_class((host, port), handler)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def serve(routes, port=0, port_file=None, on_stop=None, **options):
    """Serves ROUTES until SIGTERM. With port 0 the kernel picks the port; port_file receives
    it (written once the socket listens). on_stop runs on SIGTERM, before the shutdown."""
    server = make_server(routes, port=port, **options)
    if port_file:
        with open(port_file, "w") as handle:
            handle.write(str(server.server_address[1]))

    def stop(*_):
        if on_stop:
            on_stop()
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever(poll_interval=0.2)
    server.server_close()

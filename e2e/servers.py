#!/usr/bin/env python3
"""Small loopback servers for the end-to-end test (e2e/test.sh).

    servers.py webhook --port P --out FILE     Alertmanager webhook receiver: every POST is
                                               appended to FILE as one JSON line
                                               {"received", "path", "payload"}.
    servers.py tls --port P --cert C --key K   HTTPS endpoint answering 200 "ok".
    servers.py free-ports N                    N distinct free loopback ports.
    servers.py alertmanager-config --example deploy/alertmanager/alertmanager.yml
               --webhook http://127.0.0.1:P --out FILE
                                               The example configuration with its receivers
                                               pointed at the webhook and timings shortened.

Python 3 standard library only, except alertmanager-config (PyYAML, from `make deps`).
"""

import argparse
import json
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass


def webhook(port, out):
    lock = threading.Lock()

    class Handler(Quiet):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                payload = json.loads(body)
            except ValueError:
                payload = {"unparsable": body.decode("utf-8", "replace")}
            line = json.dumps({"received": time.time(), "path": self.path, "payload": payload})
            with lock, open(out, "a") as handle:
                handle.write(line + "\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    serve(ThreadingHTTPServer(("127.0.0.1", port), Handler))


def tls(port, cert, key):
    class Handler(Quiet):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"ok\n")

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    serve(server)


def serve(server):
    # SIGTERM from the test's cleanup ends serve_forever cleanly.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.daemon_threads = True
    server.serve_forever(poll_interval=0.2)
    server.server_close()


def free_ports(count):
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in sockets))
    for s in sockets:
        s.close()


def alertmanager_config(example, webhook_base, out):
    import yaml

    with open(example) as handle:
        config = yaml.safe_load(handle)
    for receiver in config.get("receivers", []):
        for hook in receiver.get("webhook_configs", []):
            # Keep the path: it tells the receiver which route delivered the notification.
            hook["url"] = webhook_base.rstrip("/") + (urlsplit(hook["url"]).path or "/")

    def shorten(route):
        # Seconds instead of minutes; repeats never within the test, so every notification
        # is a change of a group.
        if "group_wait" in route:
            route["group_wait"] = "1s"
        if "group_interval" in route:
            route["group_interval"] = "2s"
        if "repeat_interval" in route:
            route["repeat_interval"] = "1h"
        for child in route.get("routes", []):
            shorten(child)

    route = config["route"]
    route.setdefault("group_wait", "1s")
    route.setdefault("group_interval", "2s")
    shorten(route)
    with open(out, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("webhook")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("tls")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p = sub.add_parser("free-ports")
    p.add_argument("count", type=int)
    p = sub.add_parser("alertmanager-config")
    p.add_argument("--example", required=True)
    p.add_argument("--webhook", required=True)
    p.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.command == "webhook":
        webhook(args.port, args.out)
    elif args.command == "tls":
        tls(args.port, args.cert, args.key)
    elif args.command == "free-ports":
        free_ports(args.count)
    else:
        alertmanager_config(args.example, args.webhook, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

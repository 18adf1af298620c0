#!/usr/bin/env python3
"""Small loopback servers for the end-to-end test (e2e/test.sh), on tools/mitratest/stub.py.

    servers.py webhook --port P --out FILE     Alertmanager webhook receiver: every POST is
                                               appended to FILE as one JSON line
                                               {"received", "path", "payload"}.
    servers.py tls --port P --cert C --key K   HTTPS endpoint answering 200 "ok".
    servers.py free-ports N                    N distinct free loopback ports.
    servers.py alertmanager-config --example deploy/alertmanager/alertmanager.yml
               --webhook http://127.0.0.1:P --out FILE
                                               The example configuration with its receivers
                                               pointed at the webhook and timings shortened.

Python 3 standard library only (and tools/mitratest), except alertmanager-config (PyYAML, from `make deps`).
"""

import argparse
import os
import socket
import sys
from urllib.parse import urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from mitratest import stub  # noqa: E402


def webhook(port, out):
    stub.serve({"POST *": stub.record_json(out), "GET *": stub.reply(200, b"ok")}, port=port)


def tls(port, cert, key):
    stub.serve({"GET *": stub.reply(200, b"ok\n", "text/plain")}, port=port, tls=(cert, key))


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

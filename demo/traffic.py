#!/usr/bin/env python3
"""Steady background traffic for the Agent Mitra demo API, so that its audit tables
(auth_events, api_request_log) fill the way a real backend's would: logins for all seven
roles (a few with wrong passwords, a locked account, an unknown phone number), then a
handful of endpoint calls per session, some of them forbidden or malformed.

Bounded: it stops after --duration seconds (or on SIGTERM/SIGINT) and never sends more than
--rate requests a second. Passwords come from the environment and are never printed.

    AGENTMITRA_PASSWORD=... demo/traffic.py --api http://127.0.0.1:8000 --duration 600
"""

import argparse
import json
import os
import random
import signal
import sys
import time
import urllib.error
import urllib.request

ROLE_PHONES = {
    "role-junior-agent": ["+919876540101"] + ["+9198765420%02d" % n for n in range(9, 23)],
    "role-senior-agent": ["+919876540102"] + ["+9198765420%02d" % n for n in range(1, 9)],
    "role-regional-manager": ["+919876540103"] + ["+9198765420%02d" % n for n in range(23, 26)],
    "role-provider-admin": ["+919876540104"],
    "role-super-admin": ["+919876540105"],
    "role-policyholder": ["+919876540106"] + ["+9198765430%02d" % n for n in range(1, 40)],
    "role-support-staff": ["+919876540107"] + ["+9198765420%02d" % n for n in range(26, 29)],
}
# How often each role logs in, roughly as on the real platform: agents and customers most.
ROLE_WEIGHTS = {
    "role-junior-agent": 30, "role-senior-agent": 15, "role-regional-manager": 6,
    "role-provider-admin": 3, "role-super-admin": 2, "role-policyholder": 35, "role-support-staff": 9,
}
LOCKED_PHONE = "+919876540199"
PRODUCTS = ["JEEVAN-ANAND", "TECH-TERM", "JEEVAN-LABH", "JEEVAN-UMANG", "MONEY-BACK-20", "SARAL-PENSION", "CANCER-COVER"]
SEARCHES = ["LIC88000001", "Sharma", "Patel", "LIC8800001", "Joshi", "Iyer"]


class Client:
    def __init__(self, base, rate, deadline):
        self.base = base.rstrip("/")
        self.interval = 1.0 / rate
        self.deadline = deadline
        self.next_slot = time.monotonic()
        self.counts = {}

    def call(self, method, path, token=None, body=None):
        """One request, paced to the rate; returns (status, parsed JSON or None)."""
        now = time.monotonic()
        if self.next_slot > now:
            time.sleep(self.next_slot - now)
        self.next_slot = max(self.next_slot, now) + self.interval
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = "Bearer " + token
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        except (urllib.error.URLError, OSError):
            status, payload = 0, b""
        key = f"{path.split('?')[0]} {status or 'unreachable'}"
        self.counts[key] = self.counts.get(key, 0) + 1
        if status == 0:
            # The API is down (a failure switch, or not started yet): back off a little.
            time.sleep(1)
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            return status, None


def session(client, password, rng):
    """One user's visit: a login, then a few calls that fit (or sometimes do not fit) the role."""
    roll = rng.random()
    role = rng.choices(list(ROLE_WEIGHTS), weights=list(ROLE_WEIGHTS.values()))[0]
    phone = rng.choice(ROLE_PHONES[role])
    # 3 % of logins fail for the users' own reasons, so every failure path shows up in the
    # audit trail while each role stays above the 95 % login-success target.
    if roll < 0.02:
        client.call("POST", "/auth/login", body={"phone_number": phone, "password": password + "-typo"})
        return
    if roll < 0.025:
        client.call("POST", "/auth/login", body={"phone_number": LOCKED_PHONE, "password": password})
        return
    if roll < 0.03:
        client.call("POST", "/auth/login", body={"phone_number": "+9190000%05d" % rng.randrange(100000), "password": password})
        return
    status, answer = client.call("POST", "/auth/login", body={"phone_number": phone, "password": password})
    if status != 200 or not isinstance(answer, dict):
        return
    token = answer.get("access_token")
    client.call("GET", "/users/me", token)
    for _ in range(rng.randint(1, 5)):
        if time.monotonic() > client.deadline:
            return
        pick = rng.random()
        if pick < 0.30:
            query = "?q=" + rng.choice(SEARCHES) if rng.random() < 0.4 else ""
            client.call("GET", "/policies/" + query, token)
        elif pick < 0.42:
            client.call("GET", "/leads/", token)
        elif pick < 0.52:
            client.call("GET", "/analytics/dashboard", token)
        elif pick < 0.60:
            client.call("GET", "/agents/", token)
        elif pick < 0.70:
            client.call("GET", "/users/me/preferences", token)
        elif pick < 0.78:
            client.call("POST", "/rbac/check-permission", token,
                        {"permission": rng.choice(["policies.read", "quotes.create", "users.manage", "analytics.read"])})
        elif pick < 0.90:
            client.call("POST", "/quotes/", token, {
                "product_code": rng.choice(PRODUCTS), "customer_name": "Walk-in Customer",
                "customer_age": rng.randint(18, 75), "sum_assured": rng.choice([500000, 1000000, 2500000, 5000000]),
                "term_years": rng.choice([10, 15, 20, 25])})
        elif pick < 0.95:
            client.call("GET", "/policies/")  # a client that lost its token: 401
        else:
            client.call("GET", "/health")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default=os.environ.get("AGENTMITRA_API_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--duration", type=float, default=3600, help="seconds to run (default 3600)")
    parser.add_argument("--rate", type=float, default=8, help="maximum requests per second (default 8)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--report-every", type=float, default=30, help="seconds between summaries on stdout")
    args = parser.parse_args()
    password = os.environ.get("AGENTMITRA_PASSWORD")
    if not password:
        sys.exit("traffic: AGENTMITRA_PASSWORD is not set")
    if args.rate <= 0 or args.duration <= 0:
        sys.exit("traffic: --rate and --duration must be positive")

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    rng = random.Random(args.seed)
    started = time.monotonic()
    client = Client(args.api, args.rate, started + args.duration)
    next_report = started + args.report_every
    print(f"traffic: {args.api}, up to {args.rate:g} requests/s for {args.duration:g} s", flush=True)
    while not stop and time.monotonic() < client.deadline:
        session(client, password, rng)
        if time.monotonic() >= next_report:
            next_report += args.report_every
            summary = ", ".join(f"{key}: {count}" for key, count in sorted(client.counts.items()))
            print(f"traffic: {int(time.monotonic() - started)} s: {summary}", flush=True)
    print(f"traffic: done after {int(time.monotonic() - started)} s, {sum(client.counts.values())} requests", flush=True)


if __name__ == "__main__":
    main()

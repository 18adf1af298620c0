#!/usr/bin/env python3
"""Checks the rules as a live Prometheus evaluates them (for the end-to-end test).

    check_live.py PROMETHEUS_URL

Fails when Prometheus has not loaded every rule of alerts/rules, or when any rule's last
evaluation failed. Prints the recording rules that currently have no data.
"""

import glob
import json
import os
import sys
import urllib.parse
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def get(url, path, **params):
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{url.rstrip('/')}{path}{query}", timeout=30) as response:
        return json.load(response)["data"]


def main(url):
    expected = set()
    for path in glob.glob(os.path.join(HERE, "rules", "*.rules.yml")):
        with open(path) as handle:
            for group in yaml.safe_load(handle)["groups"]:
                for rule in group["rules"]:
                    expected.add((group["name"], rule.get("record") or rule.get("alert")))
    problems, loaded, empty = [], set(), []
    for group in get(url, "/api/v1/rules")["groups"]:
        for rule in group["rules"]:
            loaded.add((group["name"], rule["name"]))
            if rule.get("health") != "ok" or rule.get("lastError"):
                problems.append(f'{group["name"]}/{rule["name"]}: {rule.get("health")} {rule.get("lastError", "")}')
            if rule["type"] == "recording" and (group["name"], rule["name"]) in expected:
                selector = rule["name"] + "{" + ",".join(f'{k}="{v}"' for k, v in rule.get("labels", {}).items()) + "}"
                if not get(url, "/api/v1/query", query=selector)["result"]:
                    empty.append(selector)
    for group, name in sorted(expected - loaded):
        problems.append(f"{group}/{name}: not loaded by Prometheus")
    for selector in sorted(set(empty)):
        print(f"  no data yet: {selector}")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"rules: {len(expected)} rule names expected, {len(loaded & expected)} loaded, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))

#!/usr/bin/env python3
"""Check that the unit tests and the runbook cover every alert.

For each alert the generator defines, some test must expect it to fire and some test must
expect it to stay silent (an empty `exp_alerts`, or an `ALERTS` query whose expected samples
leave it out), and alerts/runbook.md must have a section for it with the three parts an
on-call engineer needs.
"""

import glob
import os
import re
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def alert_names():
    out = subprocess.run([sys.executable, os.path.join(REPO, "tools", "gen_alerts.py"), "--list-alerts"],
                         check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


_MATCHER = re.compile(r'alertname\s*(=~|!~|=|!=)\s*"([^"]*)"')


def selects(expr, name):
    """Whether an `ALERTS{...}` selector can return alert `name`."""
    for op, value in _MATCHER.findall(expr):
        if op == "=" and value != name:
            return False
        if op == "!=" and value == name:
            return False
        if op == "=~" and not re.fullmatch(value, name):
            return False
        if op == "!~" and re.fullmatch(value, name):
            return False
    return True


def sample_alertname(labels):
    match = re.search(r'alertname="([^"]*)"', labels)
    return match.group(1) if match else None


def coverage():
    fires, silent = set(), set()
    names = alert_names()
    for path in sorted(glob.glob(os.path.join(HERE, "tests", "*.test.yml"))):
        with open(path) as handle:
            document = yaml.safe_load(handle)
        for test in document.get("tests", []):
            for case in test.get("alert_rule_test", []) or []:
                (fires if case.get("exp_alerts") else silent).add(case["alertname"])
            for case in test.get("promql_expr_test", []) or []:
                expr = case["expr"].strip()
                if not expr.startswith("ALERTS"):
                    continue
                if 'alertstate="firing"' not in expr and case.get("exp_samples"):
                    continue
                expected = {sample_alertname(s["labels"]) for s in case.get("exp_samples") or []}
                for name in names:
                    if name in expected:
                        fires.add(name)
                    elif selects(expr, name):
                        silent.add(name)
    return names, fires, silent


def runbook_problems(names):
    with open(os.path.join(HERE, "runbook.md")) as handle:
        text = handle.read()
    sections = {}
    for match in re.finditer(r"^## (\S+)\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S):
        sections[match.group(1)] = match.group(2)
    problems = []
    for name in names:
        body = sections.get(name)
        if body is None:
            problems.append(f"runbook.md: no section '## {name}'")
            continue
        for part in ("Meaning", "First checks", "Likely causes"):
            if f"**{part}**" not in body:
                problems.append(f"runbook.md: section {name} lacks **{part}**")
    for extra in sorted(set(sections) - set(names)):
        problems.append(f"runbook.md: section {extra} is not an alert")
    return problems


def main():
    names, fires, silent = coverage()
    problems = []
    for name in names:
        if name not in fires:
            problems.append(f"tests: no test expects {name} to fire")
        if name not in silent:
            problems.append(f"tests: no test expects {name} to stay silent")
    problems += runbook_problems(names)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"coverage: {len(names)} alerts, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

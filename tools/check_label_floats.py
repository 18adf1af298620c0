#!/usr/bin/env python3
"""Checks that every `le` and `quantile` literal in the rules, rule tests, dashboards and
runbook is a value the exporter really emits for that metric.

    check_label_floats.py METRICS_FILE     # a /metrics body (text format) of a running exporter
    check_label_floats.py --self-test

Prometheus 3 stores `le` and `quantile` label values in float form (`le="1"` becomes
`le="1.0"`), so a selector written in another form matches nothing there and the alert
behind it never fires. The exporter exposes the stored form; this check keeps the shipped
queries and the exposed values from drifting apart.
"""

import glob
import json
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from promyaml import label_float  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ["alerts/rules/*.yml", "alerts/tests/*.yml", "dashboards/*.json", "alerts/runbook.md"]

SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^{}]*)\}")
FLOAT_MATCHER = re.compile(r"\b(le|quantile)\s*(=~|!=|!~|=)\s*\"([^\"]*)\"")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")


def emitted_values(body):
    """{(metric name, label): {values}} for `le` and `quantile` in a text-format body."""
    values = {}
    for line in body.splitlines():
        match = SAMPLE.match(line)
        if not match:
            continue
        for label, _, value in FLOAT_MATCHER.findall(match.group(2)):
            values.setdefault((match.group(1), label), set()).add(value)
    return values


def strings_in(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_in(value)


def texts_of(path):
    with open(path) as handle:
        if path.endswith(".json"):
            return list(strings_in(json.load(handle)))
        if path.endswith(".yml"):
            return list(strings_in(yaml.safe_load(handle)))
        return [handle.read()]


def problems(emitted, texts):
    """(where, problem) for each literal that is not canonical or not emitted for its metric."""
    found = []
    for where, text in texts:
        for name, matchers in SELECTOR.findall(text):
            for label, operator, value in FLOAT_MATCHER.findall(matchers):
                literal = f'{name}{{{label}{operator}"{value}"}}'
                if operator != "=":
                    found.append((where, f"{literal}: match {label} with = and the exact stored value"))
                    continue
                try:
                    canonical = label_float(value)
                except ValueError:
                    found.append((where, f"{literal}: not a number"))
                    continue
                if canonical != value:
                    found.append((where, f'{literal}: Prometheus 3 stores it as {label}="{canonical}"'))
                elif value not in emitted.get((name, label), set()):
                    known = sorted(emitted.get((name, label), set()))
                    found.append((where, f"{literal}: the exporter emits no such series "
                                         f"(emitted {label} values: {', '.join(known) or 'none'})"))
    return found


def self_test():
    emitted = emitted_values('h_bucket{check="a",le="1.0"} 3\nh_bucket{check="a",le="+Inf"} 4\n')
    cases = [
        ('rate(h_bucket{le="1.0"}[5m])', 0),
        ('rate(h_bucket{check="a",le="+Inf"}[5m])', 0),
        ('rate(h_bucket{le="1"}[5m])', 1),                 # the Prometheus 2 form
        ('rate(h_bucket{le="2.0"}[5m])', 1),               # canonical, but not emitted
        ('rate(other_bucket{le="1.0"}[5m])', 1),           # another metric's buckets
        ('rate(h_bucket{le=~"1|1.0"}[5m])', 1),
        ('histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m])))', 0),
    ]
    failed = [(text, want, len(problems(emitted, [("self-test", text)])))
              for text, want in cases if len(problems(emitted, [("self-test", text)])) != want]
    for text, want, got in failed:
        print(f"self-test: {text}: expected {want} problem(s), got {got}", file=sys.stderr)
    return 1 if failed else 0


def main(metrics_file):
    with open(metrics_file) as handle:
        emitted = emitted_values(handle.read())
    texts, literals = [], 0
    for pattern in SOURCES:
        for path in sorted(glob.glob(os.path.join(REPO, pattern))):
            for text in texts_of(path):
                texts.append((os.path.relpath(path, REPO), text))
                literals += sum(len(FLOAT_MATCHER.findall(m)) for _, m in SELECTOR.findall(text))
    found = problems(emitted, texts)
    for where, problem in found:
        print(f"{where}: {problem}", file=sys.stderr)
    print(f"le/quantile literals: {literals} checked against the live exporter, {len(found)} problems")
    return 1 if found or literals == 0 else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))

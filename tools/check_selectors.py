#!/usr/bin/env python3
"""Prove that every expression of the mixin carries its `_config.selector`.

Renders the mixin (tools/render_mixin.py) with a selector of its own, then reads every vector
selector of every rule expression, panel query and dashboard variable query and fails on any
that does not contain all of the selector's matchers. Exempt, and only these: series the
mixin's own recording rules write (their inputs carry the selector, their outputs are
aggregated without it), and `ALERTS` filtered by alert name (the mixin's alerts).

    python3 tools/check_selectors.py                 # render with job="other",cluster="x" and check
    python3 tools/check_selectors.py --self-test     # the matcher flags what it must
"""

import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SELECTOR = 'job="other",cluster="x"'

KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
            "group_right", "inf", "nan", "atan2"}
LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
TOKEN = re.compile(r'''
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[a-zA-Z]*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<variable>\$\{?\w+\}?)
  | (?P<punct>[{}()\[\],])
  | (?P<space>\s+)
  | (?P<other>[^\s])
''', re.X)


def tokens(expr):
    for match in TOKEN.finditer(expr):
        kind = match.lastgroup
        if kind != "space":
            yield kind, match.group(), match.start()


def matchers(text):
    """The matchers of a `{...}` body, as a set of `name op "value"` strings without spaces."""
    parts, depth, current, quote = [], 0, "", None
    for char in text:
        if quote:
            current += char
            if char == quote and not current.endswith("\\" + quote):
                quote = None
            continue
        if char in "\"'`":
            quote = char
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return {re.sub(r"\s+", "", part) for part in parts if part.strip()}


def vector_selectors(expr):
    """(metric name or "", matcher body or None) of every vector selector in a PromQL expression."""
    found = []
    items = list(tokens(expr))
    index = 0
    while index < len(items):
        kind, text, start = items[index]
        following = items[index + 1] if index + 1 < len(items) else (None, None, None)
        if kind == "punct" and text == "[":
            # Ranges and subquery steps: durations and Grafana's $__rate_interval.
            while index < len(items) and items[index][1] != "]":
                index += 1
        elif kind == "ident" and text in LABEL_LISTS and following[1] == "(":
            while index < len(items) and items[index][1] != ")":
                index += 1
        elif kind == "ident" and (text in KEYWORDS or following[1] == "(" or following[1] in ("by", "without")):
            pass  # keywords, functions, aggregations (`sum by (...) (...)`)
        elif kind == "ident" or (kind == "punct" and text == "{"):
            name = text if kind == "ident" else ""
            body = None
            brace = index + 1 if kind == "ident" else index
            if brace < len(items) and items[brace][1] == "{":
                # A `}` can sit inside a quoted value: the closing brace is the first outside quotes.
                depth_end = _closing_brace(expr, items[brace][2])
                body = expr[items[brace][2] + 1:depth_end]
                while index < len(items) and items[index][2] < depth_end:
                    index += 1
                found.append((name, body))
                continue
            found.append((name, None))
        index += 1
    return found


def _closing_brace(expr, opening):
    quote = None
    position = opening + 1
    while position < len(expr):
        char = expr[position]
        if quote:
            if char == "\\":
                position += 1
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char == "}":
            return position
        position += 1
    raise ValueError(f"unclosed {{ at {opening} in {expr!r}")


def problems_of(expr, selector, recorded):
    wanted = matchers(selector)
    problems = []
    for name, body in vector_selectors(expr):
        if name in recorded:
            continue
        have = matchers(body) if body is not None else set()
        if name in ("ALERTS", "ALERTS_FOR_STATE") and any(m.startswith("alertname") for m in have):
            continue
        missing = wanted - have
        if missing:
            shown = f"{name}{{{body}}}" if body is not None else name
            problems.append(f"{shown} lacks {', '.join(sorted(missing))}")
    return problems


def expressions(files):
    """(where, PromQL) of every rule, panel target and label_values() variable query."""
    import yaml
    for path in ("rules/slo.rules.yml", "rules/alerts.rules.yml"):
        for group in yaml.safe_load(files[path])["groups"]:
            for rule in group["rules"]:
                yield f"{path} {rule.get('record') or rule.get('alert')}", rule["expr"]
    for path, text in sorted(files.items()):
        if not path.startswith("dashboards/"):
            continue
        board = json.loads(text)
        for panel in board["panels"]:
            for item in panel.get("targets", []):
                yield f'{path} panel "{panel["title"]}" {item["refId"]}', item["expr"]
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                query = variable["query"]["query"]
                match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query, flags=re.S)
                yield f"{path} variable {variable['name']}", match.group(1) if match else query


def recorded_names(files):
    import yaml
    names = set()
    for path in ("rules/slo.rules.yml", "rules/alerts.rules.yml"):
        for group in yaml.safe_load(files[path])["groups"]:
            names |= {rule["record"] for rule in group["rules"] if "record" in rule}
    return names


def self_test():
    recorded = {"mitra:slo_errors:ratio_rate5m"}
    cases = [
        ('rate(foo[5m])', 1),
        ('foo{a="b"}', 1),
        ('foo{job="other",a="b"}', 1),
        ('{__name__=~"x"}', 1),
        ('sum by (job, cluster) (foo{job="other", cluster="x"})', 0),
        ('foo{job="other",cluster="x",a="}"} / on (job) bar', 1),
        ('histogram_quantile(0.95, sum by (le) (rate(x_bucket{job="other",cluster="x"}[$__rate_interval])))', 0),
        ('mitra:slo_errors:ratio_rate5m{slo="a"} > 0.144', 0),
        ('ALERTS{alertname="MitraX"}', 0),
        ('ALERTS{alertstate="firing"}', 1),
        ('label_replace(up{job="other",cluster="x"}, "a", "$1", "b", "(.*)") offset 5m', 0),
        ('time() - foo{cluster="x",job="other"} < 14 * 86400', 0),
    ]
    failures = 0
    for expr, expected in cases:
        got = problems_of(expr, SELECTOR, recorded)
        if len(got) != expected:
            failures += 1
            print(f"self-test: {expr!r}: expected {expected} problem(s), got {got}", file=sys.stderr)
    print(f"check_selectors self-test: {len(cases)} cases, {failures} failures")
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("--selector", default=SELECTOR)
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    import render_mixin
    files = render_mixin.render({"selector": args.selector})
    recorded = recorded_names(files)
    count, problems = 0, []
    for where, expr in expressions(files):
        count += 1
        problems += [f"{where}: {p}" for p in problems_of(expr, args.selector, recorded)]
    # Nothing may still name the default job: it would select the wrong series.
    for path, text in files.items():
        if 'job="mitra-exporter"' in text:
            problems.append(f"{path}: still names job=\"mitra-exporter\"")
    for text in problems:
        print(text, file=sys.stderr)
    print(f"selectors: {count} expressions rendered with {{{args.selector}}}, {len(problems)} problems")
    return 1 if problems or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

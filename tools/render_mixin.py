#!/usr/bin/env python3
"""Render the monitoring mixin (mixin/) into the committed rules and dashboards.

tools/gen_alerts.py and tools/gen_dashboards.py are the source: they build the rules and
dashboards with placeholders for `_config`, and this script writes their templates to
mixin/generated/, evaluates mixin/mixin.libsonnet with gojsonnet (PyPI), and writes
alerts/rules/{slo,alerts}.rules.yml and dashboards/*.json. alerts/test.sh and
dashboards/test.sh check that the committed files are this script's output.

    python3 tools/render_mixin.py                    # rewrite mixin/generated, alerts/rules, dashboards
    python3 tools/render_mixin.py --out DIR          # write DIR/generated, DIR/rules, DIR/dashboards
    python3 tools/render_mixin.py --out DIR --selector 'job="other",cluster="x"'
    python3 tools/render_mixin.py --out DIR --max-for 10s --for-divisor 30 --window-divisor 60
        # test overlay for end-to-end tests that cannot wait an hour: every `for:` divided
        # (keeping causes ahead of symptoms) and capped, keep_firing_for and the recording
        # rules' windows divided (5m -> 5s, 1h -> 60s, 3d -> 4320s) under their usual names.
        # The committed rules are never weakened.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_alerts  # noqa: E402
import gen_dashboards  # noqa: E402
from promyaml import dump  # noqa: E402

REPO = os.path.dirname(HERE)
MIXIN = os.path.join(REPO, "mixin")

HEADER = """Rendered from the monitoring mixin (mixin/) by tools/render_mixin.py; do not edit by hand.
The rules are built in tools/gen_alerts.py, the defaults are in mixin/config.libsonnet;
change them, run tools/render_mixin.py, and commit all (alerts/test.sh checks they agree)."""

RULE_KEYS = ["record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"]
ANNOTATION_KEYS = ["summary", "description", "runbook_url"]


def templates():
    """{file name in mixin/generated: JSON text}."""
    return {
        "rules.json": json.dumps(gen_alerts.rules_template(), indent=2) + "\n",
        "dashboards.json": json.dumps(gen_dashboards.dashboards_template(), indent=2) + "\n",
    }


def evaluate(generated, overrides):
    """The mixin's prometheusRules, prometheusAlerts and grafanaDashboards, with `overrides`
    merged into `_config` and the templates `generated` in place of the files on disk."""
    try:
        import _gojsonnet
    except ImportError:
        raise SystemExit("render_mixin: the jsonnet evaluator is missing: pip install gojsonnet")
    generated_dir = os.path.join(MIXIN, "generated")

    def load(base, rel):
        path = os.path.normpath(os.path.join(base, rel))
        if os.path.dirname(path) == generated_dir and os.path.basename(path) in generated:
            return path, generated[os.path.basename(path)].encode()
        if not os.path.isfile(path):
            raise RuntimeError(f"no such file: {path}")
        with open(path, "rb") as handle:
            return path, handle.read()

    # Overrides merge into the defaults key by key (a JSON merge patch), as `_config+::` would.
    snippet = ("local mixin = (import 'mixin.libsonnet') + { _config:: std.mergePatch(super._config, std.parseJson(std.extVar('overrides'))) };\n"
               "{ prometheusRules: mixin.prometheusRules, prometheusAlerts: mixin.prometheusAlerts,"
               " grafanaDashboards: mixin.grafanaDashboards }")
    try:
        text = _gojsonnet.evaluate_snippet(os.path.join(MIXIN, "render.jsonnet"), snippet,
                                           ext_vars={"overrides": json.dumps(overrides)}, import_callback=load)
    except RuntimeError as error:
        raise SystemExit(f"render_mixin: mixin/mixin.libsonnet: {error}")
    return json.loads(text)


def ordered_rules(groups):
    """Rules in the order people read them (jsonnet sorts object keys)."""
    def order(mapping, keys):
        unknown = set(mapping) - set(keys)
        if unknown:
            raise SystemExit(f"render_mixin: unexpected rule keys {sorted(unknown)}")
        return {key: mapping[key] for key in keys if key in mapping}
    result = []
    for group in groups:
        rules = []
        for rule in group["rules"]:
            rule = order(rule, RULE_KEYS)
            if "annotations" in rule:
                rule["annotations"] = order(rule["annotations"], ANNOTATION_KEYS)
            rules.append(rule)
        result.append({"name": group["name"], "rules": rules})
    return result


def render(overrides=None, max_for=None, for_divisor=None, window_divisor=None):
    """{relative path: text} of everything the mixin renders, templates included."""
    generated = templates()
    mixin = evaluate(generated, overrides or {})
    slo = ordered_rules(mixin["prometheusRules"]["groups"])
    alerts = ordered_rules(mixin["prometheusAlerts"]["groups"])
    gen_alerts.overlay(slo + alerts, max_for, window_divisor, for_divisor)
    files = {f"generated/{name}": text for name, text in generated.items()}
    files["rules/slo.rules.yml"] = dump({"groups": slo}, HEADER)
    files["rules/alerts.rules.yml"] = dump({"groups": alerts}, HEADER)
    for name, board in mixin["grafanaDashboards"].items():
        files[f"dashboards/{name}"] = json.dumps(board, indent=2) + "\n"
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write DIR/generated, DIR/rules and DIR/dashboards instead of the repository's "
                                      "mixin/generated, alerts/rules and dashboards")
    parser.add_argument("--selector", help="_config.selector, e.g. 'job=\"other\",cluster=\"x\"'")
    parser.add_argument("--runbook-base", help="_config.runbookBase: URL of alerts/runbook.md")
    parser.add_argument("--max-for", help="test overlay: cap every alert's `for:` at this duration")
    parser.add_argument("--for-divisor", type=int,
                        help="test overlay: divide every `for:` by this number (before --max-for caps it)")
    parser.add_argument("--window-divisor", type=int,
                        help="test overlay: divide the recording rules' range windows (and keep_firing_for) by this number")
    args = parser.parse_args()
    overrides = {}
    if args.selector is not None:
        overrides["selector"] = args.selector
    if args.runbook_base is not None:
        overrides["runbookBase"] = args.runbook_base
    files = render(overrides, args.max_for, args.for_divisor, args.window_divisor)
    places = {"generated": os.path.join(MIXIN, "generated"), "rules": os.path.join(REPO, "alerts", "rules"),
              "dashboards": os.path.join(REPO, "dashboards")}
    for relative, text in files.items():
        kind, name = relative.split("/", 1)
        directory = os.path.join(args.out, kind) if args.out else places[kind]
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, name), "w") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()

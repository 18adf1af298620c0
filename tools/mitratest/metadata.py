"""The metadata of an exporter's /metrics page, compared with a golden file (node_exporter's
golden e2e output, reduced to what must not change by accident).

Per metric family: name, type, HELP text and the label names its series carry (not values,
not series counts, which vary with timing). `le` and `quantile` are left out: the type
implies them.

    python3 -m mitratest.metadata --golden FILE [--update] --baseline SCRAPE SCRAPE...

SCRAPE files are /metrics pages (text format 0.0.4) taken during one run; their union is
compared. BASELINE is one of them, taken once the exporter reports every family of its
configuration: a family in it is "always" in the golden file and must be there on every run.
A family that appeared only in later scrapes (after traffic or an injected failure) is
"sometimes": when present its metadata must match, but it may be absent. A family that is not
in the golden file at all fails (a new or renamed metric). With --update (or
MITRA_UPDATE_GOLDEN=1) the golden file is rewritten from the scrapes instead: review the diff
and commit it.
"""

import argparse
import os
import re
import sys

_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count", "_created"), "summary": ("_sum", "_count", "_created")}
_IMPLIED = {"le", "quantile"}


class ParseError(Exception):
    pass


def _unescape_help(text):
    return text.replace("\\n", "\n").replace("\\\\", "\\")


def _label_names(text, where):
    names = []
    position = 0
    while position < len(text):
        match = _LABEL.match(text, position)
        if not match:
            raise ParseError(f"{where}: cannot read the labels {{{text}}}")
        names.append(match.group(1))
        position = match.end()
    return names


def parse(text, where):
    """{family: {"type", "help", "labels": set}} of one page; `where` names it in errors."""
    families = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        at = f"{where}:{number}"
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            families.setdefault(name, {"type": "untyped", "help": "", "labels": set(), "samples": 0})["help"] = _unescape_help(help_text)
        elif line.startswith("# TYPE "):
            parts = line[7:].split()
            if len(parts) != 2:
                raise ParseError(f"{at}: malformed TYPE line {line!r}")
            families.setdefault(parts[0], {"type": "untyped", "help": "", "labels": set(), "samples": 0})["type"] = parts[1]
        elif line.startswith("#"):
            continue
        else:
            brace = line.find("{")
            if brace >= 0:
                close = line.rfind("}")
                if close < brace:
                    raise ParseError(f"{at}: unclosed label set in {line!r}")
                sample, labels = line[:brace], _label_names(line[brace + 1:close], at)
            else:
                sample, labels = line.split()[0], []
            family = _family_of(sample, families)
            if family is None:
                raise ParseError(f"{at}: sample {sample} has no HELP/TYPE of its family")
            families[family]["labels"].update(name for name in labels if name not in _IMPLIED)
            families[family]["samples"] += 1
    return {name: meta for name, meta in families.items() if meta["samples"]}


def _family_of(sample, families):
    if sample in families:
        return sample
    for name, meta in families.items():
        for suffix in _SUFFIXES.get(meta["type"], ()):
            if sample == name + suffix:
                return name
    return None


def union(pages):
    merged = {}
    for page in pages:
        for name, meta in page.items():
            known = merged.get(name)
            if known is None:
                merged[name] = {"type": meta["type"], "help": meta["help"], "labels": set(meta["labels"])}
            else:
                # A type or HELP that changes within one run is a defect of its own.
                for key in ("type", "help"):
                    if known[key] != meta[key]:
                        raise ParseError(f"{name}: {key} changed during the run: {known[key]!r} then {meta[key]!r}")
                known["labels"] |= meta["labels"]
    return merged


def render(merged, always):
    lines = [
        "# Metric metadata of the exporter on the demo world (demo/test.sh), one family a line:",
        "# name, type, always|sometimes, label names (le and quantile implied by the type), HELP.",
        "# \"sometimes\": appears only after traffic or an injected failure; checked when present.",
        "# Regenerate after a deliberate change: MITRA_UPDATE_GOLDEN=1 demo/test.sh, review, commit.",
    ]
    for name in sorted(merged):
        meta = merged[name]
        presence = "always" if name in always else "sometimes"
        labels = ",".join(sorted(meta["labels"])) or "-"
        help_text = meta["help"].replace("\\", "\\\\").replace("\n", "\\n")
        lines.append("\t".join((name, meta["type"], presence, labels, help_text)))
    return "\n".join(lines) + "\n"


def read_golden(path):
    golden = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 5 or fields[2] not in ("always", "sometimes"):
                raise ParseError(f"{path}:{number}: expected 5 tab-separated fields (name, type, always|sometimes, labels, help)")
            golden[fields[0]] = {"type": fields[1], "presence": fields[2], "labels": fields[3], "help": fields[4]}
    return golden


def compare(golden, rendered):
    """The differences between the golden file and this run, one line each."""
    problems = []
    live = {}
    for line in rendered.splitlines():
        if line.startswith("#"):
            continue
        name, kind, _, labels, help_text = line.split("\t")
        live[name] = {"type": kind, "labels": labels, "help": help_text}
    for name in sorted(set(golden) | set(live)):
        want, got = golden.get(name), live.get(name)
        if want is None:
            problems.append(f"{name}: not in the golden file (a new or renamed family)")
        elif got is None:
            if want["presence"] == "always":
                problems.append(f"{name}: missing (the golden file has it on every run)")
        else:
            for key, what in (("type", "type"), ("labels", "label names"), ("help", "HELP")):
                if want[key] != got[key]:
                    problems.append(f"{name}: {what} {got[key]!r}, golden {want[key]!r}")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--golden", required=True)
    parser.add_argument("--update", action="store_true")
    parser.add_argument("--baseline", required=True)
    parser.add_argument("scrapes", nargs="*")
    args = parser.parse_args(argv)
    update = args.update or os.environ.get("MITRA_UPDATE_GOLDEN") == "1"
    try:
        pages = []
        for path in [args.baseline] + args.scrapes:
            with open(path, encoding="utf-8") as handle:
                pages.append(parse(handle.read(), path))
        rendered = render(union(pages), set(pages[0]))
        if update:
            with open(args.golden, "w", encoding="utf-8") as handle:
                handle.write(rendered)
            print(f"metadata: wrote {args.golden} ({len(rendered.splitlines()) - 4} families)")
            return 0
        golden = read_golden(args.golden)
    except (OSError, ParseError) as error:
        print(f"metadata: {error}", file=sys.stderr)
        return 2
    problems = compare(golden, rendered)
    if problems:
        print(f"metadata: /metrics differs from {args.golden}:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print("  (after a deliberate change: MITRA_UPDATE_GOLDEN=1 demo/test.sh, review the diff, commit it)", file=sys.stderr)
        return 1
    print(f"metadata: {len(golden)} families match {args.golden}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

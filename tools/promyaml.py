"""Deterministic YAML output shared by the generators.

Multi-line strings (PromQL, descriptions) are written as literal blocks so the committed
files read like hand-written rules and diff line by line.
"""

import yaml


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value):
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def dump(data, header=None):
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True,
                     default_flow_style=False)
    if header:
        text = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + text
    return text


def dump_all(documents, header=None):
    parts = [dump(document) for document in documents]
    text = "---\n" + "---\n".join(parts)
    if header:
        text = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + text
    return text


def number(value):
    """A threshold computed from a target, printed without float noise (0.144, not 0.14400000000000002)."""
    rounded = round(value, 10)
    if rounded == int(rounded):
        return str(int(rounded))
    return repr(rounded)

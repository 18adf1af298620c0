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


def label_float(value):
    """A histogram bound as a `le` (or summary `quantile`) label value, in the form Prometheus 3
    stores at ingestion and the exporter exposes: Go's shortest %g, plus ".0" when the result
    has neither a point nor an exponent (1 -> "1.0", 0.5 -> "0.5", 1e6 -> "1e+06")."""
    value = float(value)
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0.0"
    mantissa, _, exponent = repr(abs(value)).partition("e")
    integer, _, fraction = mantissa.partition(".")
    digits = (integer + fraction).lstrip("0")
    point = len(integer) + int(exponent or 0) - (len(integer + fraction) - len(digits))
    digits = digits.rstrip("0")
    sign = "-" if value < 0 else ""
    if point - 1 < -4 or point - 1 >= 6:
        head = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{head}e{'-' if point - 1 < 0 else '+'}{abs(point - 1):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}.0"
    return f"{sign}{digits[:point]}.{digits[point:]}"

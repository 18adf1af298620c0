"""Placeholders for the values a mixin user sets in `_config` (mixin/config.libsonnet).

The generators (tools/gen_alerts.py, tools/gen_dashboards.py) build the rules and dashboards
with these placeholders in place of the series selector, the runbook URL, the severity names
and every number derived from an SLO target or KPI threshold. `template()` turns the result
into the JSON templates in mixin/generated/, which mixin/lib/template.libsonnet fills from
`_config`; tools/render_mixin.py renders the mixin into alerts/rules/ and dashboards/.

In a template, a string is a jsonnet format string (`%(name)s` is a value, `%%` a literal
percent sign), and `{"mixinValue": "name"}` stands for a whole value (a number in a
dashboard's thresholds).
"""

import re

_OPEN, _CLOSE = "\u27ea", "\u27eb"
_TOKEN = re.compile(_OPEN + r"(=?)([A-Za-z0-9_]+)" + _CLOSE)

SELECTOR = f"{_OPEN}selector{_CLOSE}"
RUNBOOK = f"{_OPEN}runbookBase{_CLOSE}"


def var(name):
    """A `_config`-derived value inside a string."""
    return f"{_OPEN}{name}{_CLOSE}"


def severity(name):
    """The configured name of severity `name` (critical, warning, info, inhibit)."""
    return var(f"severity_{name}")


def sel(metric, inner=""):
    """`metric{<selector>,inner}`: every vector selector starts with the configured selector
    (`inner` may already start with it)."""
    if inner.startswith(SELECTOR):
        inner = inner[len(SELECTOR):].lstrip(",")
    return f"{metric}{{{SELECTOR}{',' + inner if inner else ''}}}"


class Derived:
    """The numbers a template needs, each computed in jsonnet from one `_config` value `of`
    ("slos.apiAvailability", "kpis.loginLatencySeconds"): value = (1 - it if complement else it) * times, written as `format`:
    "number" (shortest decimal), "le" (a histogram bound in Prometheus 3's form: 1 -> 1.0)
    or "value" (the number itself, for whole-value placeholders)."""

    def __init__(self):
        self.specs = {}

    def _add(self, of, complement, times, fmt):
        if of.count(".") != 1:
            raise SystemExit(f"mixin_template: {of!r} is not a _config path like slos.apiAvailability")
        key = f"{of.replace('.', '_')}_{'c' if complement else 'v'}_{repr(float(times)).replace('.', '_').replace('-', 'm')}_{fmt}"
        spec = {"of": of, "complement": complement, "times": times, "format": fmt}
        if self.specs.setdefault(key, spec) != spec:
            raise SystemExit(f"mixin_template: derived value {key} defined twice differently")
        return key

    def text(self, of, complement=False, times=1, fmt="number"):
        return var(self._add(of, complement, times, fmt))

    def value(self, of, complement=False, times=1):
        return f"{_OPEN}={self._add(of, complement, times, 'value')}{_CLOSE}"


def template(data):
    """The JSON template of `data`: placeholders become jsonnet format fields, `%` is escaped."""
    if isinstance(data, str):
        whole = _TOKEN.fullmatch(data)
        if whole and whole.group(1) == "=":
            return {"mixinValue": whole.group(2)}
        text = data.replace("%", "%%")

        def field(match):
            if match.group(1):
                raise SystemExit(f"mixin_template: whole-value placeholder inside a string: {data!r}")
            return f"%({match.group(2)})s"
        return _TOKEN.sub(field, text)
    if isinstance(data, list):
        return [template(item) for item in data]
    if isinstance(data, dict):
        return {key: template(value) for key, value in data.items()}
    return data

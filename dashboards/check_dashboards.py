#!/usr/bin/env python3
"""Structural checks of the Grafana dashboards, and PromQL extraction for promtool.

    check_dashboards.py structure         # print problems, exit 1 if any
    check_dashboards.py self-test         # the panel checks flag what they must
    check_dashboards.py rules OUT.yml     # write every expression as a recording rule
    check_dashboards.py queries [RATE_INTERVAL RANGE]
                                          # every expression as JSON, for end-to-end tests
    check_dashboards.py live PROMETHEUS_URL
                                          # run them all; fail on errors and unexpected empties

Grafana template variables are not PromQL, so before promtool parses an expression the
variables are replaced by values of the same shape: `$__rate_interval` by a duration and
`$check` (always used inside a regex matcher) by `.*`.
"""

import glob
import json
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DS = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39

# The metric names the exporter documents (see the README's metric reference); a dashboard
# query for any other name is a typo that would show "No data" forever.
EXPORTED = {
    "probe_success", "probe_duration_seconds", "probe_http_status_code", "probe_http_duration_seconds",
    "probe_http_content_length", "probe_http_redirects", "probe_http_ssl", "probe_ssl_earliest_cert_expiry",
    "probe_tls_version_info", "probe_failed_due_to_regex", "mitra_probe_runs_total", "mitra_probe_failures_total",
    "mitra_scenario_success", "mitra_scenario_runs_total",
    "pg_up", "pg_database_size_bytes", "pg_stat_activity_count", "pg_stat_activity_max_tx_duration",
    "pg_settings_max_connections", "pg_locks_count", "pg_blocked_processes", "pg_stat_statements_mean_exec_seconds",
    "pg_replication_lag_seconds", "mitra_exporter_series_dropped_total",
    "agentmitra_login_attempts_total", "agentmitra_api_requests_total",
    "mitra_exporter_build_info", "mitra_exporter_config_last_reload_successful",
    "mitra_exporter_config_last_reload_success_timestamp_seconds", "mitra_exporter_collector_success",
    "mitra_exporter_collector_duration_seconds", "mitra_exporter_collector_last_success_timestamp_seconds",
    "mitra_exporter_collector_interval_seconds", "mitra_exporter_collector_runs_total",
    "mitra_exporter_collector_failures_total", "mitra_exporter_scrapes_total", "mitra_exporter_log_lines_dropped_total",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds",
    "mitra_service_info", "mitra_service_dependency",
}
HISTOGRAMS = {"mitra_probe_duration_seconds", "mitra_scenario_duration_seconds",
              "agentmitra_login_duration_seconds", "agentmitra_api_request_duration_seconds"}
# Families documented by view (postgres_exporter's names for the same views).
EXPORTED_PREFIXES = ("pg_stat_database_", "pg_stat_statements_", "pg_stat_user_tables_", "pg_statio_user_tables_",
                     "pg_stat_bgwriter_", "pg_stat_checkpointer_", "pg_stat_wal_", "pg_stat_replication_",
                     "pg_replication_", "pg_stat_io_", "pg_settings_")
# Series Prometheus itself adds to every scrape and alert.
PROMETHEUS = {"up", "scrape_samples_scraped", "scrape_duration_seconds", "scrape_series_added", "ALERTS",
              "ALERTS_FOR_STATE"}

PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "topk", "bottomk", "by", "without", "on", "ignoring", "group_left",
    "group_right", "and", "or", "unless", "bool", "offset", "rate", "increase", "irate", "delta", "idelta",
    "histogram_quantile", "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "count_over_time",
    "time", "vector", "scalar", "abs", "round", "clamp_min", "clamp_max", "changes", "resets", "absent",
    "label_replace", "label_join", "sort", "sort_desc", "quantile", "stddev", "le", "inf", "nan",
}


def dashboards():
    for path in sorted(glob.glob(os.path.join(HERE, "*.json"))):
        with open(path) as handle:
            yield os.path.basename(path), json.load(handle)


def panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def variable_queries(dashboard):
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            yield variable["name"], query


def expressions(dashboard, with_keys=False):
    """(where, PromQL) for every panel target and every label_values() variable query."""
    for panel in panels(dashboard):
        for item in panel.get("targets", []):
            where = f'panel {panel["id"]} "{panel["title"]}" {item["refId"]}'
            key = f'panel_{panel["id"]}_{item["refId"]}'
            yield (where, key, item["expr"]) if with_keys else (where, item["expr"])
    for name, query in variable_queries(dashboard):
        match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query, flags=re.S)
        expr = match.group(1) if match else query
        yield (f"variable {name}", f"variable_{name}", expr) if with_keys else (f"variable {name}", expr)


def substitute(expr):
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "1m").replace("$__range", "1h")
    return re.sub(r"\$\{?(\w+)\}?", ".*", expr)


def recorded_names():
    names = set()
    for path in glob.glob(os.path.join(REPO, "alerts", "rules", "*.yml")):
        with open(path) as handle:
            for group in yaml.safe_load(handle)["groups"]:
                names |= {rule["record"] for rule in group["rules"] if "record" in rule}
    return names


def metric_names(expr):
    # {__name__=~"name(_total)?"} selects a counter under both of its scrape-format names.
    names = set(re.findall(r'__name__=~"([A-Za-z_:][A-Za-z0-9_:]*)\(_total\)\?"', expr))
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # label values
    stripped = re.sub(r"\{[^}]*\}", "", stripped)                 # matchers
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)                # ranges
    stripped = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", stripped)
    for token in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", stripped):
        if token.lower() in PROMQL_WORDS:
            continue
        names.add(token)
    return names


def known(name, recorded):
    if name in EXPORTED or name in PROMETHEUS or name in recorded or name.startswith(EXPORTED_PREFIXES):
        return True
    for histogram in HISTOGRAMS:
        if name in (f"{histogram}_bucket", f"{histogram}_count", f"{histogram}_sum"):
            return True
    return False


def overlaps(a, b):
    return not (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or
                a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])


def check_dashboard(name, dashboard, recorded):
    problems = []

    def problem(text):
        problems.append(f"{name}: {text}")

    if dashboard.get("schemaVersion") != SCHEMA_VERSION:
        problem(f"schemaVersion {dashboard.get('schemaVersion')}, want {SCHEMA_VERSION}")
    if dashboard.get("id") is not None:
        problem("id must be null so the dashboard imports into any Grafana")
    variables = dashboard["templating"]["list"]
    if not variables or variables[0] != {**variables[0], "name": "datasource", "type": "datasource",
                                         "query": "prometheus"}:
        problem("the first template variable must be the Prometheus `datasource` variable")
    defined = {v["name"] for v in variables}
    if "instance" not in defined:
        problem("no `instance` variable")
    for variable in variables[1:]:
        if variable.get("datasource") != DS:
            problem(f"variable {variable['name']} does not query ${{datasource}}")

    ids = [p["id"] for p in panels(dashboard)]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problem(f"panel id {duplicate} is not unique")
    boxes = []
    for panel in panels(dashboard):
        where = f'panel {panel["id"]} "{panel["title"]}"'
        grid = panel["gridPos"]
        if grid["x"] < 0 or grid["x"] + grid["w"] > 24:
            problem(f"{where} is outside the 24-column grid")
        for other_where, other in boxes:
            if overlaps(grid, other):
                problem(f"{where} overlaps {other_where}")
        boxes.append((where, grid))
        if panel["type"] == "row":
            continue
        if panel.get("datasource") != DS:
            problem(f"{where}: datasource is not ${{datasource}}")
        if not panel.get("targets"):
            problem(f"{where}: no queries")
        for item in panel.get("targets", []):
            if item.get("datasource") != DS:
                problem(f"{where} {item.get('refId')}: target datasource is not ${{datasource}}")
        if not panel["fieldConfig"]["defaults"].get("unit"):
            problem(f"{where}: no unit")
        refs = [item["refId"] for item in panel.get("targets", [])]
        if len(set(refs)) != len(refs):
            problem(f"{where}: duplicate refId")
        # Someone on call reads the (i) tooltip: what the panel shows, and for a panel that can
        # turn red, what to do then.
        description = panel.get("description") or ""
        if len(description) < 40:
            problem(f"{where}: no description (or a stub): say what it shows, its target, what to do when red")
        steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
        if any(step.get("color") == "red" for step in steps) and "red" not in description.lower():
            problem(f"{where}: can turn red but its description does not say what to do then")

    for where, expr in expressions(dashboard):
        for variable in re.findall(r"\$\{?(\w+)\}?", expr):
            if not variable.startswith("__") and variable not in defined:
                problem(f"{where}: uses undefined variable ${variable}")
        for metric in sorted(metric_names(substitute(expr))):
            if not known(metric, recorded):
                problem(f"{where}: unknown metric {metric}")
    return problems


# Grafana unit ids the dashboards use; a typo would show raw numbers.
UNITS = {"s", "percentunit", "short", "none", "bytes", "Bps", "ops", "reqps", "dateTimeFromNow", "suffix:x"}


def mixin_config():
    """The mixin's default `_config` (mixin/config.libsonnet): the KPI targets of the panels."""
    try:
        import _gojsonnet
    except ImportError:
        raise SystemExit("check_dashboards: the jsonnet evaluator is missing: pip install gojsonnet")
    path = os.path.join(REPO, "mixin", "config.libsonnet")
    return json.loads(_gojsonnet.evaluate_snippet(path, "(import 'config.libsonnet')._config",
                                                  jpathdir=[os.path.dirname(path)]))


def _call_argument(expr, start):
    """The text between the parenthesis at `start` and its match."""
    depth = 0
    for position in range(start, len(expr)):
        if expr[position] == "(":
            depth += 1
        elif expr[position] == ")":
            depth -= 1
            if depth == 0:
                return expr[start + 1:position]
    return expr[start + 1:]


def quantile_families(expr):
    """For each histogram_quantile() in expr, the histogram families whose buckets it reads."""
    families = []
    for match in re.finditer(r"histogram_quantile\s*\(", expr):
        argument = _call_argument(expr, match.end() - 1)
        families.append(sorted(set(re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)_bucket\b", argument))))
    return families


def kpi_rules(config):
    """(what, test(expr), unit, value): a panel with a target for which test(expr) holds shows
    that KPI, so its unit must be `unit` and one of its thresholds `value`."""
    slos, kpis = config["slos"], config["kpis"]

    def quantile_of(family, *needles):
        return lambda expr: any(family in f for f in quantile_families(expr)) and all(n in expr for n in needles)

    def starts(prefix):
        return lambda expr: expr.lstrip().startswith(prefix)

    return [
        ("dashboard latency", quantile_of("mitra_probe_duration_seconds", 'kpi="dashboard"'), "s", kpis["dashboardLatencySeconds"]),
        ("policy search latency", quantile_of("mitra_probe_duration_seconds", 'kpi="policy_search"'), "s",
         kpis["policySearchLatencySeconds"]),
        ("analytics latency", quantile_of("mitra_probe_duration_seconds", 'kpi="analytics"'), "s", kpis["analyticsLatencySeconds"]),
        ("login latency", quantile_of("agentmitra_login_duration_seconds"), "s", kpis["loginLatencySeconds"]),
        ("login latency", quantile_of("mitra_probe_duration_seconds", 'step="login"'), "s", kpis["loginLatencySeconds"]),
        ("API latency", quantile_of("agentmitra_api_request_duration_seconds"), "s", kpis["apiLatencySeconds"]),
        ("API latency", quantile_of("mitra_probe_duration_seconds", "check"), "s", kpis["apiLatencySeconds"]),
        ("DB mean query time", lambda e: "pg_stat_statements_mean_exec_seconds" in e or
         "pg_stat_statements_query_mean_exec_seconds" in e, "s", kpis["dbMeanQuerySeconds"]),
        ("API success", starts('1 - mitra:slo_errors:ratio_rate1h{slo="api-availability"}'), "percentunit",
         slos["apiAvailability"]),
        ("API success", lambda e: "mitra_probe_runs_total" in e and 'result="success"' in e, "percentunit",
         slos["apiAvailability"]),
        ("login success", starts('1 - mitra:slo_errors:ratio_rate1h{slo="login-success"}'), "percentunit", slos["loginSuccess"]),
        ("login success per role", starts("1 - role:mitra_login_errors:ratio_rate5m"), "percentunit", slos["loginSuccess"]),
        ("logins within the latency target", starts('1 - mitra:slo_errors:ratio_rate1h{slo="login-latency"}'), "percentunit",
         slos["loginLatency"]),
    ]


def check_panels(name, dashboard, config):
    """Units, KPI thresholds and histogram quantiles, panel by panel."""
    problems = []
    rules = kpi_rules(config)
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        where = f'{name}: panel {panel["id"]} "{panel["title"]}"'
        defaults = panel["fieldConfig"]["defaults"]
        unit = defaults.get("unit")
        if unit not in UNITS:
            problems.append(f"{where}: unit {unit!r} is not one of {sorted(UNITS)}")
        steps = {step["value"] for step in defaults.get("thresholds", {}).get("steps", []) if step["value"] is not None}
        exprs = [item["expr"] for item in panel.get("targets", [])]
        for expr in exprs:
            for families in quantile_families(expr):
                # Buckets of different histograms have different bounds; merged into one
                # quantile they give a number that belongs to neither.
                if len(families) != 1:
                    problems.append(f"{where}: one histogram_quantile() over {families or 'no'} histogram "
                                    "families; take one quantile per family")
            if quantile_families(expr) and unit != "s":
                problems.append(f"{where}: a latency quantile with unit {unit!r}, not s")
        for what, test, want_unit, value in rules:
            if not any(test(expr) for expr in exprs):
                continue
            if unit != want_unit:
                problems.append(f"{where}: shows the {what} KPI with unit {unit!r}, not {want_unit!r}")
            elif not any(abs(step - value) < 1e-9 for step in steps):
                problems.append(f"{where}: shows the {what} KPI but has no threshold at its target {value}")
    return problems


def self_test():
    """check_panels() flags a merged quantile, a missing unit and a missing KPI threshold."""
    config = mixin_config()
    good = {"id": 1, "type": "timeseries", "title": "p95", "fieldConfig": {"defaults": {
        "unit": "s", "thresholds": {"steps": [{"color": "green", "value": None},
                                              {"color": "red", "value": config["kpis"]["dashboardLatencySeconds"]}]}}},
        "targets": [{"expr": 'histogram_quantile(0.95, sum by (le) (rate(mitra_probe_duration_seconds_bucket{kpi="dashboard"}[5m])))'}]}
    merged = json.loads(json.dumps(good))
    merged["targets"][0]["expr"] = ('histogram_quantile(0.95, sum by (le) (rate(agentmitra_login_duration_seconds_bucket[5m])'
                                    ' or rate(mitra_probe_duration_seconds_bucket{step="login"}[5m])))')
    no_unit = json.loads(json.dumps(good))
    del no_unit["fieldConfig"]["defaults"]["unit"]
    no_threshold = json.loads(json.dumps(good))
    no_threshold["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] = 5
    cases = [(good, 0), (merged, 1), (no_unit, 2), (no_threshold, 1)]
    failures = 0
    for panel, expected in cases:
        found = check_panels("self-test", {"panels": [panel]}, config)
        if len(found) < expected or (expected == 0 and found):
            failures += 1
            print(f"self-test: expected {expected} problem(s), got {found}", file=sys.stderr)
    print(f"check_dashboards self-test: {len(cases)} cases, {failures} failures")
    return 1 if failures else 0


def thresholds(dashboard):
    values = set()
    for panel in panels(dashboard):
        steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
        values |= {step["value"] for step in steps if step["value"] is not None}
    return values


# KPI values that must be marked as thresholds on each dashboard.
KPI_THRESHOLDS = {
    "agent-mitra-overview.json": {0.99, 0.95, 0.5, 2, 1, 3},
    "api-health.json": {0.99, 2, 14 * 86400},
    "postgresql.json": {0.5, 0.8, 30, 300},
    "logins.json": {0.95, 0.5, 0.05},
    "exporter-self.json": {3, 1},
}
REQUIRED_VARIABLES = {
    "agent-mitra-overview.json": {"instance", "check", "role"},
    "api-health.json": {"instance", "check"},
    "postgresql.json": {"instance", "instance_name"},
    "logins.json": {"instance", "role"},
    "exporter-self.json": {"instance"},
}


def structure():
    recorded = recorded_names()
    config = mixin_config()
    problems, uids, count = [], {}, 0
    for name, dashboard in dashboards():
        count += 1
        problems += check_dashboard(name, dashboard, recorded)
        problems += check_panels(name, dashboard, config)
        if dashboard["uid"] in uids:
            problems.append(f"{name}: uid {dashboard['uid']} also used by {uids[dashboard['uid']]}")
        uids[dashboard["uid"]] = name
        missing = KPI_THRESHOLDS.get(name, set()) - thresholds(dashboard)
        if missing:
            problems.append(f"{name}: no threshold at KPI value(s) {sorted(missing)}")
        names = {v["name"] for v in dashboard["templating"]["list"]}
        if REQUIRED_VARIABLES.get(name, set()) - names:
            problems.append(f"{name}: missing variables {sorted(REQUIRED_VARIABLES[name] - names)}")
    if set(KPI_THRESHOLDS) - {name for name, _ in dashboards()}:
        problems.append(f"missing dashboards: {sorted(set(KPI_THRESHOLDS) - {n for n, _ in dashboards()})}")
    for text in problems:
        print(text, file=sys.stderr)
    print(f"structure: {count} dashboards, {len(problems)} problems")
    return 1 if problems else 0


# Series whose absence is normal in some setups, so an end-to-end "every panel returns data"
# check must not fail on them unless its setup provides them.
OPTIONAL = {
    "probe_ssl_earliest_cert_expiry": "only HTTPS checks have certificates",
    "probe_tls_version_info": "only HTTPS checks have a TLS version",
    "pg_stat_replication_": "only a primary with standbys has pg_stat_replication rows",
    "pg_stat_user_tables_last_autovacuum_age_seconds": "only tables autovacuum has processed",
    "pg_stat_activity_count": "no series while the exporter is the only client",
    "mitra_exporter_series_dropped_total": "only collectors that hit a series limit",
    "agentmitra_": "needs the audit-trail SQL collectors (auth_events, api_request_log)",
    "ALERTS": "only while an alert fires",
    "mitra_service_": "only when the config declares services:",
}


def queries(rate_interval, range_, out=True):
    """Every expression, variables substituted for an instant query, with the reasons it may be empty."""
    items = []
    for name, dashboard in dashboards():
        for where, expr in expressions(dashboard):
            concrete = expr.replace("$__rate_interval", rate_interval).replace("$__interval", rate_interval)
            concrete = re.sub(r"\$\{?(\w+)\}?", ".*", concrete.replace("$__range", range_))
            reasons = sorted({why for prefix, why in OPTIONAL.items()
                              for metric in metric_names(concrete) if metric.startswith(prefix)})
            items.append({"dashboard": name, "where": where, "expr": concrete, "may_be_empty": reasons})
    if not out:
        return items
    json.dump(items, sys.stdout, indent=1)
    print()
    return 0


def live(url):
    """Runs every expression against a live Prometheus: each must succeed, and return data
    unless it is listed as possibly empty."""
    import urllib.parse
    import urllib.request
    problems, items = [], queries("1m", "1h", out=False)
    for item in items:
        query = urllib.parse.urlencode({"query": item["expr"]})
        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}/api/v1/query?{query}", timeout=30) as response:
                answer = json.load(response)
        except Exception as error:  # an HTTP 400 is a query Prometheus rejected
            problems.append(f'{item["dashboard"]} {item["where"]}: query failed: {error}')
            continue
        if answer.get("status") != "success":
            problems.append(f'{item["dashboard"]} {item["where"]}: {answer.get("error")}')
        elif not answer["data"]["result"] and not item["may_be_empty"]:
            problems.append(f'{item["dashboard"]} {item["where"]}: no data')
        elif not answer["data"]["result"]:
            print(f'  empty (allowed: {"; ".join(item["may_be_empty"])}): {item["dashboard"]} {item["where"]}')
    for text in problems:
        print(text, file=sys.stderr)
    print(f"live: {len(items)} expressions, {len(problems)} problems")
    return 1 if problems else 0


def rules(out):
    items = []
    for name, dashboard in dashboards():
        slug = re.sub(r"\W", "_", name.removesuffix(".json"))
        for where, key, expr in expressions(dashboard, with_keys=True):
            # The rule name says where the expression is when promtool rejects it.
            items.append({"record": f"dashboard:{slug}:{key}", "expr": substitute(expr),
                          "labels": {"dashboard": name, "where": where}})
    with open(out, "w") as handle:
        yaml.safe_dump({"groups": [{"name": "dashboard-expressions", "rules": items}]}, handle, sort_keys=False)
    print(f"{len(items)} expressions written to {out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "structure":
        sys.exit(structure())
    if len(sys.argv) == 2 and sys.argv[1] == "self-test":
        sys.exit(self_test())
    if len(sys.argv) == 3 and sys.argv[1] == "rules":
        sys.exit(rules(sys.argv[2]))
    if len(sys.argv) == 3 and sys.argv[1] == "live":
        sys.exit(live(sys.argv[2]))
    if len(sys.argv) in (2, 4) and sys.argv[1] == "queries":
        sys.exit(queries(*(sys.argv[2:4] or ["1m", "1h"])))
    print(__doc__, file=sys.stderr)
    sys.exit(2)

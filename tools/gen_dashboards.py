#!/usr/bin/env python3
"""The Grafana dashboards of the monitoring mixin (mixin/), rendered into dashboards/*.json.

Grafana 10/11 JSON (schemaVersion 39). Every panel and query uses the `datasource` template
variable, so the dashboards import into any Grafana with any Prometheus data source name, and
every vector selector starts with the mixin's `_config.selector`. KPI thresholds (99 % API
success, 95 % login success, 0.5 s login, 2 s dashboard, 1 s policy search, 3 s analytics,
2 s API p95, 500 ms mean query time by default) come from `_config` and are drawn on the
panels. This module builds the template mixin/generated/dashboards.json (see
tools/mixin_template.py); tools/render_mixin.py renders it.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_alerts import CAUSES  # noqa: E402  (the alerts that name a cause, shown first)
from mixin_template import SELECTOR, Derived, sel, template  # noqa: E402

from dashboard_descriptions import DERIVED as DESCRIPTION_VALUES, DESCRIPTIONS

DS = {"type": "prometheus", "uid": "${datasource}"}

# KPI targets: placeholders for the mixin's `_config` values the SLO rules use too.
DERIVED = Derived()
API_SUCCESS = DERIVED.value("slos.apiAvailability")
LOGIN_SUCCESS = DERIVED.value("slos.loginSuccess")
LATENCY_KPI = {"login": "kpis.loginLatencySeconds", "dashboard": "kpis.dashboardLatencySeconds",
               "policy_search": "kpis.policySearchLatencySeconds", "analytics": "kpis.analyticsLatencySeconds",
               "api": "kpis.apiLatencySeconds"}
LATENCY = {kpi: DERIVED.value(path) for kpi, path in LATENCY_KPI.items()}
DB_MEAN_QUERY = DERIVED.value("kpis.dbMeanQuerySeconds")


def warn_at(path, share=0.8):
    """Yellow from this share of a KPI threshold on."""
    return DERIVED.value(path, times=share)


def seconds_text(path):
    return DERIVED.text(path) + " s"

RED, YELLOW, GREEN, BLUE = "red", "yellow", "green", "blue"


# ---------------------------------------------------------------------------------------------
# Building blocks


def higher_is_better(*limits):
    """Thresholds for a ratio that must stay high: red below the first limit."""
    steps = [{"color": RED, "value": None}]
    colors = [YELLOW, GREEN] if len(limits) == 2 else [GREEN]
    for color, value in zip(colors, limits):
        steps.append({"color": color, "value": value})
    return steps


def lower_is_better(*limits):
    """Thresholds for a value that must stay low: red above the last limit."""
    steps = [{"color": GREEN, "value": None}]
    colors = [YELLOW, RED] if len(limits) == 2 else [RED]
    for color, value in zip(colors, limits):
        steps.append({"color": color, "value": value})
    return steps


def target(expr, legend="", instant=False, table=False):
    item = {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto", "refId": ""}
    if instant:
        item["instant"] = True
        item["range"] = False
    else:
        item["range"] = True
    if table:
        item["format"] = "table"
    return item


class Panel:
    def __init__(self, kind, title, targets, unit, description="", thresholds=None, width=12, height=8,
                 minimum=None, maximum=None, options=None, custom=None, mappings=None, transformations=None,
                 key=None):
        self.kind, self.title, self.targets, self.unit = kind, title, targets, unit
        self.description, self.thresholds = description, thresholds
        self.width, self.height = width, height
        self.minimum, self.maximum = minimum, maximum
        self.options, self.custom, self.mappings = options, custom, mappings
        self.transformations = transformations
        # Descriptions are looked up by title, or by `key` where the title shows a configured target.
        self.key = key or title

    def json(self, panel_id, x, y):
        defaults = {"unit": self.unit, "color": {"mode": "thresholds" if self.kind != "timeseries" else "palette-classic"}}
        if self.minimum is not None:
            defaults["min"] = self.minimum
        if self.maximum is not None:
            defaults["max"] = self.maximum
        defaults["thresholds"] = {"mode": "absolute",
                                  "steps": self.thresholds or [{"color": GREEN, "value": None}]}
        if self.mappings:
            defaults["mappings"] = self.mappings
        custom = dict(self.custom or {})
        if self.kind == "timeseries":
            custom.setdefault("drawStyle", "line")
            custom.setdefault("lineWidth", 1)
            custom.setdefault("fillOpacity", 10)
            custom.setdefault("showPoints", "never")
            custom["thresholdsStyle"] = {"mode": "line+area" if self.thresholds else "off"}
        if custom:
            defaults["custom"] = custom
        targets = []
        for index, item in enumerate(self.targets):
            item = dict(item)
            item["refId"] = chr(ord("A") + index)
            targets.append(item)
        # One source per description: tools/dashboard_descriptions.py, or the panel's own.
        if self.description and self.key in DESCRIPTIONS:
            raise SystemExit(f"panel {self.title!r}: description both in the panel and in tools/dashboard_descriptions.py")
        description = self.description or DESCRIPTIONS.get(self.key, "")
        if not description:
            raise SystemExit(f"panel {self.title!r} has no description: add one to tools/dashboard_descriptions.py")
        panel = {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": description,
            "datasource": DS,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": self.default_options(),
            "targets": targets,
        }
        if self.transformations:
            panel["transformations"] = self.transformations
        return panel

    def default_options(self):
        if self.options is not None:
            return self.options
        if self.kind == "timeseries":
            return {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"}}
        if self.kind == "stat":
            return {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background", "graphMode": "area", "justifyMode": "auto",
                    "orientation": "auto", "textMode": "auto"}
        if self.kind == "bargauge":
            return {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "displayMode": "basic", "orientation": "horizontal", "showUnfilled": True}
        if self.kind == "table":
            return {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
        return {}


def timeseries(title, targets, unit, **kw):
    return Panel("timeseries", title, targets, unit, **kw)


def stat(title, targets, unit, width=4, height=5, **kw):
    return Panel("stat", title, targets, unit, width=width, height=height, **kw)


def bargauge(title, targets, unit, **kw):
    return Panel("bargauge", title, targets, unit, **kw)


def table(title, targets, unit, width=24, **kw):
    return Panel("table", title, targets, unit, width=width, **kw)


class Row:
    def __init__(self, title):
        self.title = title


def layout(items):
    """Place panels left to right, wrapping at 24 columns; rows start a new line."""
    panels, next_id, x, y, line_height = [], 1, 0, 0, 0
    for item in items:
        if isinstance(item, Row):
            if x:
                y += line_height
            x, line_height = 0, 0
            panels.append({"id": next_id, "type": "row", "title": item.title, "collapsed": False,
                           "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
            next_id += 1
            y += 1
            continue
        if x + item.width > 24:
            x, y, line_height = 0, y + line_height, 0
        panels.append(item.json(next_id, x, y))
        next_id += 1
        x += item.width
        line_height = max(line_height, item.height)
    return panels


def datasource_variable():
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1,
            "regex": "", "skipUrlSync": False}


def query_variable(name, label, query, multi=True):
    variable = {"name": name, "label": label, "type": "query", "datasource": DS,
                "query": {"query": query, "refId": f"{name}-variable"}, "definition": query,
                "current": {}, "hide": 0, "includeAll": multi, "multi": multi, "options": [],
                "refresh": 2, "regex": "", "skipUrlSync": False, "sort": 1}
    if multi:
        variable["allValue"] = ".*"
    return variable


# Every selector of the dashboards starts with the mixin's selector; most then narrow to the
# chosen exporter instance.
INST = 'instance=~"$instance"'
HAS_CHECK, HAS_ROLE = 'check!=""', 'role!=""'
CHECK_CHOSEN, SUCCESS = ',check=~"$check"', ',result="success"'
SCENARIO_CHOSEN = ',scenario=~"$scenario"'
FAILED = ',outcome!="success"'
Q = '"'
PG = 'instance_name=~"$instance_name"'
INSTANCE = query_variable("instance", "Exporter instance", f"label_values({sel('up')}, instance)")
CHECK = query_variable("check", "Check", f"label_values({sel('probe_success', f'{INST},{HAS_CHECK}')}, check)")
SCENARIO = query_variable("scenario", "Scenario", f"label_values({sel('mitra_scenario_success', INST)}, scenario)")
ROLE = query_variable("role", "Role", f"label_values({sel('mitra_scenario_runs_total', f'{INST},{HAS_ROLE}')}, role)")
SERVICE = query_variable("service", "Service", f"label_values({sel('mitra_service_info', INST)}, service)")
PG_INSTANCE = query_variable("instance_name", "PostgreSQL", f"label_values({sel('pg_up', INST)}, instance_name)")
DATNAME = query_variable("datname", "Database",
                         f"label_values({sel('pg_stat_database_numbackends', f'{INST},{PG}')}, datname)")


def dashboard(uid, title, description, variables, items, tags=()):
    return {
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
            "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts",
            "type": "dashboard"}]},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [{"asDropdown": True, "icon": "external link", "includeVars": True, "keepTime": True,
                   "tags": ["mitra-exporter"], "targetBlank": False, "title": "mitra-exporter dashboards",
                   "type": "dashboards"}],
        "panels": layout(items),
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["mitra-exporter", "agent-mitra", *tags],
        "templating": {"list": [datasource_variable(), *variables]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": title,
        "uid": uid,
        "version": 1,
    }


# Counters named without `_total` (postgres_exporter's names for pg_stat_database and
# pg_stat_user_tables) gain the suffix when Prometheus scrapes OpenMetrics, which it prefers;
# matching both spellings keeps the panels working with either scrape format.

def rate_target(metric, selector, legend, by="", scale=""):
    """`sum [by (…)] (rate(metric{selector}[$__rate_interval]))`, the per-second rate of one counter."""
    grouping = f" by ({by}) " if by else ""
    return target(f"sum{grouping}(rate({metric}{{{selector}}}[$__rate_interval])){scale}", legend)


def either(counter, selector):
    return sel("", f'{selector},__name__=~"{counter}(_total)?"')


def percentile(q, metric, selector, by):
    """A quantile of one histogram family (its series share one bucket layout): never over
    histograms of different families, whose buckets would be merged into a wrong layout."""
    return (f"histogram_quantile({q}, sum by ({', '.join(by + ['le'])}) "
            f"(rate({sel(metric + '_bucket', selector)}[$__rate_interval])))")


# ---------------------------------------------------------------------------------------------
# 1. Agent Mitra overview


def overview():
    # The recorded SLO ratios are the mixin's own series, computed from selected series only.
    slo_ratio = 'mitra:slo_errors:ratio_rate{w}{{slo="{slo}"}}'

    def budget_left(slo):
        # Averaging the 1h ratios over 30 days weighs every hour equally: close to the exact
        # event-weighted budget when traffic is steady, and cheap to query. The ratios are
        # kept per service; the objective is one per SLO.
        return (f'1 - avg_over_time(mitra:slo_errors:ratio_rate1h{{slo="{slo}"}}[30d])\n'
                f'  / on (slo) group_left ()\n  (1 - mitra:slo_objective:ratio{{slo="{slo}"}})')

    # One p95 per histogram family: the audit trail's and the SQL collectors' histograms have
    # the buckets their config sets, the probes' the exporter's fixed layout; a quantile over
    # buckets merged from both would be wrong.
    kpi_stats = []
    for kpi, title, targets in [
        ("login", "Login p95", [
            target(percentile(0.95, "agentmitra_login_duration_seconds", INST, []), "audit trail"),
            target(percentile(0.95, "mitra_probe_duration_seconds", f'{INST},step="login",{HAS_ROLE}', []),
                   "scenarios")]),
        ("dashboard", "Dashboard p95", [
            target(percentile(0.95, "mitra_probe_duration_seconds", f'{INST},kpi="dashboard"', []))]),
        ("policy_search", "Policy search p95", [
            target(percentile(0.95, "mitra_probe_duration_seconds", f'{INST},kpi="policy_search"', []))]),
        ("analytics", "Analytics p95", [
            target(percentile(0.95, "mitra_probe_duration_seconds", f'{INST},kpi="analytics"', []))]),
        ("api", "API p95", [
            target(percentile(0.95, "agentmitra_api_request_duration_seconds", INST, []), "backend"),
            target(percentile(0.95, "mitra_probe_duration_seconds", f"{INST},{HAS_CHECK}", []), "checks")]),
    ]:
        kpi_stats.append(stat(f"{title} (target < {seconds_text(LATENCY_KPI[kpi])})", targets, "s", key=title,
                              thresholds=lower_is_better(warn_at(LATENCY_KPI[kpi]), LATENCY[kpi])))

    # What broke, first: the cause alerts (one per incident, alerts/runbook.md) of the chosen
    # services, and the exporter's own outage, which has no service. Symptoms they hold back
    # are in "Firing alerts" below.
    causes = "|".join(CAUSES)
    items = [
        Row("Cause"),
        table("Firing cause", [target(
            f'ALERTS{{alertstate="firing",alertname=~"{causes}",service=~"$service"}}\n'
            f'or\n{sel("ALERTS", f"alertstate={Q}firing{Q},alertname={Q}MitraExporterDown{Q},{INST}")}',
            instant=True, table=True)], "short", height=5,
              transformations=[{"id": "organize", "options": {
                  "excludeByName": {"Time": True, "Value": True, "__name__": True, "alertstate": True}}}]),
        Row("Service level objectives"),
        stat("API availability (1h)", [target(f"1 - {slo_ratio.format(w='1h', slo='api-availability')}")],
             "percentunit", thresholds=higher_is_better(API_SUCCESS), width=6),
        stat("API error budget left (30d)", [target(budget_left("api-availability"))], "percentunit",
             thresholds=higher_is_better(0, 0.25), width=6),
        stat("Login success (1h)", [target(f"1 - {slo_ratio.format(w='1h', slo='login-success')}")],
             "percentunit", thresholds=higher_is_better(LOGIN_SUCCESS), width=6),
        stat("Login error budget left (30d)", [target(budget_left("login-success"))], "percentunit",
             thresholds=higher_is_better(0, 0.25), width=6),
        *kpi_stats,
        stat(f"DB mean query time (target < {seconds_text('kpis.dbMeanQuerySeconds')})", [target(
            f"max({sel('pg_stat_statements_mean_exec_seconds', INST)})")], "s",
            thresholds=lower_is_better(warn_at("kpis.dbMeanQuerySeconds"), DB_MEAN_QUERY), key="DB mean query time"),
        bargauge("Burn rate per SLO (1h)", [target(
            "mitra:slo_errors:ratio_rate1h\n  / on (slo) group_left ()\n(1 - mitra:slo_objective:ratio)",
            "{{slo}} {{service}} {{instance_name}}", instant=True)], "suffix:x",
            thresholds=lower_is_better(1, 14.4), minimum=0, width=24, height=7),
        Row("Endpoints"),
        timeseries("Check success ratio", [target(
            f'sum by (check) (rate({sel("mitra_probe_runs_total", INST + CHECK_CHOSEN + SUCCESS)}[$__rate_interval]))\n'
            f'/\nsum by (check) (rate({sel("mitra_probe_runs_total", INST + CHECK_CHOSEN)}[$__rate_interval]))',
            "{{check}}")], "percentunit", thresholds=higher_is_better(API_SUCCESS), minimum=0, maximum=1),
        timeseries("Check latency p95", [target(
            percentile(0.95, "mitra_probe_duration_seconds", INST + CHECK_CHOSEN, ["check"]),
            "{{check}}")], "s", thresholds=lower_is_better(LATENCY["api"]), minimum=0),
        timeseries("Backend 5xx and 4xx per route", [
            target(f'sum by (route) (rate({sel("agentmitra_api_requests_total", INST + ",code=~" + Q + "5.." + Q)}[$__rate_interval]))', "5xx {{route}}"),
            target(f'sum by (route) (rate({sel("agentmitra_api_requests_total", INST + ",code=~" + Q + "4.." + Q)}[$__rate_interval]))', "4xx {{route}}"),
        ], "reqps", minimum=0),
        timeseries("Login success by role", [target(
            '1 - role:mitra_login_errors:ratio_rate5m{role=~"$role"}', "{{role}}")], "percentunit",
            thresholds=higher_is_better(LOGIN_SUCCESS), minimum=0, maximum=1),
        Row("Alerts"),
        table("Firing alerts", [target('ALERTS{alertstate="firing",alertname=~"Mitra.*"}', instant=True, table=True)],
              "short", height=8, transformations=[{"id": "organize", "options": {
                  "excludeByName": {"Time": True, "Value": True, "__name__": True, "alertstate": True}}}]),
    ]
    return dashboard("mitra-overview", "Agent Mitra overview",
                     "The firing cause, SLO status and error budgets, endpoint success and latency, logins by role, firing alerts.",
                     [INSTANCE, SERVICE, CHECK, ROLE], items, tags=["overview"])


# ---------------------------------------------------------------------------------------------
# 2. API health


def api_health():
    up_down = [{"type": "value", "options": {"0": {"text": "DOWN", "color": RED}, "1": {"text": "UP", "color": GREEN}}}]
    check = f'{SELECTOR},instance=~"$instance",check=~"$check"'
    step = f'{SELECTOR},instance=~"$instance",scenario=~"$scenario",step!=""'
    items = [
        Row("Checks"),
        bargauge("Check status", [target(f"probe_success{{{check}}}", "{{check}}", instant=True)], "short",
                 thresholds=higher_is_better(1), mappings=up_down, minimum=0, maximum=1, width=8),
        timeseries("Success ratio", [target(
            f'sum by (check) (rate(mitra_probe_runs_total{{{check},result="success"}}[$__rate_interval]))\n'
            f'/\nsum by (check) (rate(mitra_probe_runs_total{{{check}}}[$__rate_interval]))', "{{check}}")],
            "percentunit", thresholds=higher_is_better(API_SUCCESS), minimum=0, maximum=1, width=16),
        timeseries("Failures by reason", [target(
            f"sum by (check, reason) (increase(mitra_probe_failures_total{{{check}}}[$__rate_interval]))",
            "{{check}} {{reason}}")], "short", minimum=0, custom={"drawStyle": "bars", "stacking": {"mode": "normal"}}),
        timeseries("HTTP status code", [target(f"probe_http_status_code{{{check}}}", "{{check}}")], "none",
                   thresholds=lower_is_better(400, 500)),
        timeseries("Phase timings (last run)", [target(
            f"probe_http_duration_seconds{{{check}}}", "{{check}} {{phase}}")], "s", minimum=0,
            custom={"stacking": {"mode": "normal"}, "fillOpacity": 40}),
        timeseries("Duration percentiles", [
            target(percentile(0.5, "mitra_probe_duration_seconds", check, ["check"]), "p50 {{check}}"),
            target(percentile(0.95, "mitra_probe_duration_seconds", check, ["check"]), "p95 {{check}}"),
        ], "s", thresholds=lower_is_better(LATENCY["api"]), minimum=0),
        stat("Certificate expires in", [target(f"probe_ssl_earliest_cert_expiry{{{check}}} - time()", "{{check}}")],
             "s", thresholds=higher_is_better(7 * 86400, 14 * 86400), width=12, height=6),
        table("TLS and response details", [
            target(f"probe_tls_version_info{{{check}}}", instant=True, table=True),
            target(f"probe_http_content_length{{{check}}}", instant=True, table=True),
            target(f"probe_http_redirects{{{check}}}", instant=True, table=True),
        ], "short", width=12, height=6),
        Row("Scenarios"),
        bargauge("Scenario status", [target(
            sel("mitra_scenario_success", INST + SCENARIO_CHOSEN), "{{scenario}}", instant=True)],
            "short", thresholds=higher_is_better(1), mappings=up_down, minimum=0, maximum=1, width=8),
        timeseries("Step success", [target(f"probe_success{{{step}}}", "{{scenario}} / {{step}}")], "short",
                   minimum=0, maximum=1, width=16),
        timeseries("Step duration p95", [target(
            percentile(0.95, "mitra_probe_duration_seconds", step, ["scenario", "step"]), "{{scenario}} / {{step}}")],
            "s", thresholds=lower_is_better(LATENCY["api"]), minimum=0),
        timeseries("Scenario duration p95", [target(
            percentile(0.95, "mitra_scenario_duration_seconds", INST + SCENARIO_CHOSEN, ["scenario"]),
            "{{scenario}}")], "s", minimum=0),
    ]
    return dashboard("mitra-api-health", "Agent Mitra API health",
                     "Per check and scenario step: success, failure reasons, phase timings, status codes, certificates.",
                     [INSTANCE, CHECK, SCENARIO], items, tags=["http"])


# ---------------------------------------------------------------------------------------------
# 3. PostgreSQL


def postgres():
    pg = f'{SELECTOR},instance_name=~"$instance_name"'
    db = f'{SELECTOR},instance_name=~"$instance_name",datname=~"$datname"'
    lic = f'{SELECTOR},instance_name=~"$instance_name",datname=~"$datname",schemaname="lic_schema"'
    items = [
        Row("Availability and connections"),
        stat("Up", [target(f"pg_up{{{pg}}}", "{{instance_name}}")], "short", thresholds=higher_is_better(1),
             mappings=[{"type": "value", "options": {"0": {"text": "DOWN"}, "1": {"text": "UP"}}}], width=4),
        # pg_stat_activity_count has a zero series per database and state, so the sum exists
        # even while only the exporter is connected.
        stat("Connections used", [target(
            f"sum by (instance_name) (pg_stat_activity_count{{{pg}}})\n"
            f"/\nmax by (instance_name) (pg_settings_max_connections{{{pg}}})",
            "{{instance_name}}")], "percentunit", thresholds=lower_is_better(0.7, 0.8), width=4),
        stat("Mean query time", [target(f"pg_stat_statements_mean_exec_seconds{{{pg}}}", "{{instance_name}}")], "s",
             thresholds=lower_is_better(warn_at("kpis.dbMeanQuerySeconds"), DB_MEAN_QUERY), width=4),
        stat("Database size", [target(f"sum by (instance_name) (pg_database_size_bytes{{{db}}})", "{{instance_name}}")],
             "bytes", width=4),
        stat("Replication lag", [target(f"max by (instance_name) (pg_replication_lag_seconds{{{pg}}})", "{{instance_name}}")],
             "s", thresholds=lower_is_better(10, 30), width=4),
        stat("Blocked processes", [target(f"sum by (instance_name) (pg_blocked_processes{{{pg}}})", "{{instance_name}}")],
             "short", thresholds=lower_is_better(1, 5), width=4),
        timeseries("Connections by state", [
            target(f"sum by (state) (pg_stat_activity_count{{{db}}})", "{{state}}"),
            target(f"max(pg_settings_max_connections{{{pg}}})", "max_connections"),
        ], "short", minimum=0, custom={"stacking": {"mode": "none"}}),
        timeseries("Transactions", [
            target(f"sum by (datname) (rate({either('pg_stat_database_xact_commit', db)}[$__rate_interval]))", "commit {{datname}}"),
            target(f"sum by (datname) (rate({either('pg_stat_database_xact_rollback', db)}[$__rate_interval]))", "rollback {{datname}}"),
        ], "ops", minimum=0),
        timeseries("Cache hit ratio", [target(
            f"sum by (datname) (rate({either('pg_stat_database_blks_hit', db)}[$__rate_interval]))\n/\n"
            f"(\n  sum by (datname) (rate({either('pg_stat_database_blks_hit', db)}[$__rate_interval]))\n"
            f"  + sum by (datname) (rate({either('pg_stat_database_blks_read', db)}[$__rate_interval]))\n)", "{{datname}}")],
            "percentunit", thresholds=higher_is_better(0.95, 0.99), maximum=1),
        timeseries("Locks by mode and deadlocks", [
            target(f"sum by (mode) (pg_locks_count{{{db}}})", "{{mode}}"),
            target(f"sum by (datname) (increase({either('pg_stat_database_deadlocks', db)}[$__rate_interval]))", "deadlocks {{datname}}"),
        ], "short", minimum=0),
        Row("Queries"),
        timeseries(f"Mean query time vs {seconds_text('kpis.dbMeanQuerySeconds')} target", [target(
            f"pg_stat_statements_mean_exec_seconds{{{pg}}}", "{{instance_name}}")], "s",
            thresholds=lower_is_better(DB_MEAN_QUERY), minimum=0, key="Mean query time vs target"),
        timeseries("Longest open transaction", [target(
            f"max by (datname) (pg_stat_activity_max_tx_duration{{{db}}})", "{{datname}}")], "s",
            thresholds=lower_is_better(300), minimum=0),
        table("Top queries by time in the interval", [
            target(f"topk(20, sum by (queryid, user, datname) (increase(pg_stat_statements_seconds_total{{{db}}}[$__range])))",
                   instant=True, table=True),
            target(f"sum by (queryid, user, datname) (increase(pg_stat_statements_calls_total{{{db}}}[$__range]))",
                   instant=True, table=True),
        ], "s", height=10, transformations=[{"id": "merge", "options": {}},
                             {"id": "organize", "options": {"excludeByName": {"Time": True},
                                                            "renameByName": {"Value #A": "time", "Value #B": "calls"}}},
                             {"id": "sortBy", "options": {"sort": [{"field": "time", "desc": True}]}}]),
        table("Slowest statements (mean over the last interval)", [target(
            f"topk(20, pg_stat_statements_query_mean_exec_seconds{{{db}}})", instant=True, table=True)],
            "s", height=8, thresholds=lower_is_better(DB_MEAN_QUERY),
            custom={"cellOptions": {"type": "color-text"}},
            transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True, "job": True}}},
                             {"id": "sortBy", "options": {"sort": [{"field": "Value", "desc": True}]}}]),
        Row("Replication"),
        timeseries("Replica lag (on replicas)", [
            target(f"pg_replication_lag_seconds{{{pg}}}", "{{instance_name}}"),
        ], "s", thresholds=lower_is_better(30), minimum=0),
        timeseries("Standby replay lag (on the primary)", [target(
            f"pg_stat_replication_replay_lag_seconds{{{pg}}}", "{{instance_name}} -> {{application_name}}")], "s",
            thresholds=lower_is_better(30), minimum=0),
        Row("lic_schema tables"),
        table("Dead tuples and vacuum (lic_schema)", [
            target(f"pg_stat_user_tables_n_dead_tup{{{lic}}}\n/\n(pg_stat_user_tables_n_live_tup{{{lic}}} + pg_stat_user_tables_n_dead_tup{{{lic}}})",
                   instant=True, table=True),
            target(f"pg_stat_user_tables_last_autovacuum_age_seconds{{{lic}}}", instant=True, table=True),
            target(f"pg_stat_user_tables_n_dead_tup{{{lic}}}", instant=True, table=True),
        ], "percentunit", height=10,
            transformations=[{"id": "merge", "options": {}},
                             {"id": "organize", "options": {
                                 "excludeByName": {"Time": True, "instance": True, "job": True},
                                 "renameByName": {"Value #A": "dead share", "Value #B": "since autovacuum (s)",
                                                  "Value #C": "dead tuples"}}}]),
        timeseries("Sequential vs index scans (lic_schema)", [
            target(f"sum by (relname) (rate({either('pg_stat_user_tables_seq_scan', lic)}[$__rate_interval]))", "seq {{relname}}"),
            target(f"sum by (relname) (rate({either('pg_stat_user_tables_idx_scan', lic)}[$__rate_interval]))", "idx {{relname}}"),
        ], "ops", minimum=0),
        timeseries("Autovacuum runs (lic_schema)", [target(
            f"sum by (relname) (increase({either('pg_stat_user_tables_autovacuum_count', lic)}[$__rate_interval]))", "{{relname}}")],
            "short", minimum=0),
        Row("Checkpoints and WAL"),
        # The exporter keeps the checkpoint names of PostgreSQL 13-16 on 17+ (pg_stat_checkpointer),
        # so these work on every version.
        timeseries("Checkpoints", [
            rate_target("pg_stat_bgwriter_checkpoints_timed_total", pg, "timed"),
            rate_target("pg_stat_bgwriter_checkpoints_req_total", pg, "requested"),
        ], "ops", minimum=0),
        timeseries("Checkpoint write and sync time", [
            rate_target("pg_stat_bgwriter_checkpoint_write_time_total", pg, "write", scale=" / 1000"),
            rate_target("pg_stat_bgwriter_checkpoint_sync_time_total", pg, "sync", scale=" / 1000"),
        ], "percentunit", minimum=0),
        # Buffers written, by writer: pg_stat_io from 16 (backends' writes left pg_stat_bgwriter in 17).
        timeseries("Buffers written", [
            rate_target("pg_stat_bgwriter_buffers_checkpoint_total", pg, "checkpointer"),
            rate_target("pg_stat_bgwriter_buffers_clean_total", pg, "background writer"),
            target(f'sum(rate(pg_stat_io_writes_total{{{pg},object="relation",backend_type!~"checkpointer|background writer"}}[$__rate_interval]))\n'
                   f"  or sum(rate(pg_stat_bgwriter_buffers_backend_total{{{pg}}}[$__rate_interval]))", "backends"),
        ], "ops", minimum=0),
        timeseries("WAL written", [rate_target("pg_stat_wal_bytes_total", pg, "{{instance_name}}", by="instance_name")],
                   "Bps", minimum=0),
        # WAL writes and fsyncs: pg_stat_wal before 18, pg_stat_io (object="wal") from 18 on.
        timeseries("WAL writes and fsyncs", [
            target(f'sum(rate(pg_stat_io_writes_total{{{pg},object="wal"}}[$__rate_interval]))\n'
                   f"  or sum(rate(pg_stat_wal_write_total{{{pg}}}[$__rate_interval]))", "writes"),
            target(f'sum(rate(pg_stat_io_fsyncs_total{{{pg},object="wal"}}[$__rate_interval]))\n'
                   f"  or sum(rate(pg_stat_wal_sync_total{{{pg}}}[$__rate_interval]))", "fsyncs"),
        ], "ops", minimum=0),
        Row("I/O (pg_stat_io, PostgreSQL 16+)"),
        timeseries("Bytes read by backend type", [
            rate_target("pg_stat_io_read_bytes_total", pg, "{{backend_type}}", by="backend_type")], "Bps", minimum=0),
        timeseries("Bytes written and extended by backend type", [
            rate_target("pg_stat_io_write_bytes_total", pg, "write {{backend_type}}", by="backend_type"),
            rate_target("pg_stat_io_extend_bytes_total", pg, "extend {{backend_type}}", by="backend_type"),
        ], "Bps", minimum=0),
        timeseries("Time in I/O by backend type", [
            rate_target(f"pg_stat_io_{op}_time_seconds_total", pg, f"{op} {{{{backend_type}}}}", by="backend_type")
            for op in ("read", "write", "fsync")
        ], "percentunit", minimum=0),
    ]
    return dashboard("mitra-postgres", "Agent Mitra PostgreSQL",
                     "Connections, transactions, cache, locks, top queries, mean query time vs 500 ms, lic_schema "
                     "vacuum and bloat, replication.", [INSTANCE, PG_INSTANCE, DATNAME], items, tags=["postgresql"])


# ---------------------------------------------------------------------------------------------
# 4. Logins


def logins():
    role = 'role=~"$role"'
    login_step = f'{SELECTOR},instance=~"$instance",step="login",{role}'
    items = [
        Row("Login success"),
        stat("Login success (1h)", [target('1 - mitra:slo_errors:ratio_rate1h{slo="login-success"}')], "percentunit",
             thresholds=higher_is_better(LOGIN_SUCCESS), width=6),
        stat(f"Login latency within {seconds_text('kpis.loginLatencySeconds')} (1h)",
             [target('1 - mitra:slo_errors:ratio_rate1h{slo="login-latency"}')],
             "percentunit", thresholds=higher_is_better(DERIVED.value("slos.loginLatency")), width=6,
             key="Login latency within target (1h)"),
        bargauge("Success by role (5m)", [target(f"1 - role:mitra_login_errors:ratio_rate5m{{{role}}}", "{{role}}",
                                                 instant=True)],
                 "percentunit", thresholds=higher_is_better(LOGIN_SUCCESS), minimum=0, maximum=1, width=12, height=5),
        timeseries("Attempts by role and outcome", [target(
            f"sum by (role, outcome) (rate({sel('agentmitra_login_attempts_total', role)}[$__rate_interval]))",
            "{{role}} {{outcome}}")], "reqps", minimum=0, custom={"stacking": {"mode": "normal"}}),
        timeseries("Failed logins by outcome", [target(
            f'sum by (outcome) (rate({sel("agentmitra_login_attempts_total", role + FAILED)}[$__rate_interval]))',
            "{{outcome}}")], "reqps", minimum=0),
        timeseries("Success ratio by role", [target(f"1 - role:mitra_login_errors:ratio_rate5m{{{role}}}", "{{role}}")],
                   "percentunit", thresholds=higher_is_better(LOGIN_SUCCESS), minimum=0, maximum=1),
        timeseries("Login scenarios by role", [target(
            sel("mitra_scenario_success", f"{INST},{role}"), "{{role}}")], "short", minimum=0, maximum=1),
        Row("Login duration"),
        timeseries("Login duration percentiles (audit trail)", [
            target(percentile(0.5, "agentmitra_login_duration_seconds", INST, []), "p50"),
            target(percentile(0.95, "agentmitra_login_duration_seconds", INST, []), "p95"),
            target(percentile(0.99, "agentmitra_login_duration_seconds", INST, []), "p99"),
        ], "s", thresholds=lower_is_better(LATENCY["login"]), minimum=0),
        timeseries("Login step p95 by role (scenarios)", [target(
            percentile(0.95, "mitra_probe_duration_seconds", login_step, ["role"]), "{{role}}")], "s",
            thresholds=lower_is_better(LATENCY["login"]), minimum=0),
        timeseries("Login step phases by role (last run)", [target(
            f"probe_http_duration_seconds{{{login_step}}}", "{{role}} {{phase}}")], "s", minimum=0,
            custom={"stacking": {"mode": "normal"}, "fillOpacity": 40}),
        timeseries(f"Logins slower than {seconds_text('kpis.loginLatencySeconds')}", [target(
            'mitra:slo_errors:ratio_rate5m{slo="login-latency"}', "5m"), target(
            'mitra:slo_errors:ratio_rate1h{slo="login-latency"}', "1h")], "percentunit",
            thresholds=lower_is_better(DERIVED.value("slos.loginLatency", complement=True)), minimum=0,
            key="Logins slower than target"),
    ]
    return dashboard("mitra-logins", "Agent Mitra logins",
                     "Login attempts and outcomes by role, success against 95 %, duration against 500 ms.",
                     [INSTANCE, ROLE], items, tags=["logins"])


# ---------------------------------------------------------------------------------------------
# 5. Exporter self


def exporter():
    inst = f'{SELECTOR},instance=~"$instance"'
    items = [
        Row("Exporter"),
        stat("Targets up", [target(f"sum(up{{{inst}}})", "up")], "short", width=4),
        stat("Config reload", [target(f"min(mitra_exporter_config_last_reload_successful{{{inst}}})")], "short",
             thresholds=higher_is_better(1), width=4,
             mappings=[{"type": "value", "options": {"0": {"text": "FAILED"}, "1": {"text": "OK"}}}]),
        stat("Last successful reload", [target(
            f"max(mitra_exporter_config_last_reload_success_timestamp_seconds{{{inst}}}) * 1000")], "dateTimeFromNow", width=4),
        stat("Stale collectors", [target(
            f"count((time() - mitra_exporter_collector_last_success_timestamp_seconds{{{inst}}})\n"
            f"  / mitra_exporter_collector_interval_seconds{{{inst}}} > 3) or vector(0)")], "short",
            thresholds=lower_is_better(1), width=4),
        stat("Uptime", [target(f"time() - max(process_start_time_seconds{{{inst}}})")], "s", width=4),
        table("Build", [target(f"mitra_exporter_build_info{{{inst}}}", instant=True, table=True)], "short",
              width=4, height=5, transformations=[{"id": "organize", "options": {
                  "excludeByName": {"Time": True, "Value": True, "__name__": True, "job": True}}}]),
        Row("Collectors"),
        timeseries("Time since last success / interval", [target(
            f"(time() - mitra_exporter_collector_last_success_timestamp_seconds{{{inst}}})\n"
            f"/ mitra_exporter_collector_interval_seconds{{{inst}}}", "{{collector}}")], "short",
            thresholds=lower_is_better(3), minimum=0),
        timeseries("Collector duration", [target(
            f"mitra_exporter_collector_duration_seconds{{{inst}}}", "{{collector}}")], "s", minimum=0),
        timeseries("Collector failures", [target(
            f"sum by (collector) (increase(mitra_exporter_collector_failures_total{{{inst}}}[$__rate_interval]))",
            "{{collector}}")], "short", minimum=0, custom={"drawStyle": "bars"}),
        table("Collectors", [
            target(f"mitra_exporter_collector_success{{{inst}}}", instant=True, table=True),
            target(f"mitra_exporter_collector_duration_seconds{{{inst}}}", instant=True, table=True),
            target(f"time() - mitra_exporter_collector_last_success_timestamp_seconds{{{inst}}}", instant=True, table=True),
        ], "short", width=12, transformations=[
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True, "job": True},
                                           "renameByName": {"Value #A": "success", "Value #B": "duration (s)",
                                                            "Value #C": "since success (s)"}}}]),
        Row("Series and scrapes"),
        timeseries("Samples per scrape", [target(f"scrape_samples_scraped{{{inst}}}", "{{instance}}")], "short",
                   minimum=0),
        timeseries("Series dropped", [target(
            f"sum by (collector) (increase(mitra_exporter_series_dropped_total{{{inst}}}[$__rate_interval]))",
            "{{collector}}")], "short", minimum=0, thresholds=lower_is_better(1)),
        timeseries("Scrape duration", [target(f"scrape_duration_seconds{{{inst}}}", "{{instance}}")], "s", minimum=0),
        timeseries("Scrapes served", [target(f"rate(mitra_exporter_scrapes_total{{{inst}}}[$__rate_interval])",
                                             "{{instance}}")], "reqps", minimum=0),
        Row("Process"),
        timeseries("Resident memory", [target(f"process_resident_memory_bytes{{{inst}}}", "{{instance}}")], "bytes",
                   minimum=0, width=6),
        timeseries("CPU", [target(f"rate(process_cpu_seconds_total{{{inst}}}[$__rate_interval])", "{{instance}}")],
                   "percentunit", minimum=0, width=6),
        timeseries("Open file descriptors", [target(f"process_open_fds{{{inst}}}", "{{instance}}")], "short",
                   minimum=0, width=6),
        # Lines the log destination could not take (full disk, stuck log collector).
        timeseries("Log lines dropped", [target(
            f"increase(mitra_exporter_log_lines_dropped_total{{{inst}}}[$__rate_interval])", "{{instance}}")],
            "short", minimum=0, width=6, thresholds=lower_is_better(1)),
    ]
    return dashboard("mitra-exporter", "mitra-exporter self",
                     "Sampler freshness and durations, series and drops, memory, CPU, reloads.",
                     [INSTANCE], items, tags=["self"])


DASHBOARDS = {
    "agent-mitra-overview.json": overview,
    "api-health.json": api_health,
    "postgresql.json": postgres,
    "logins.json": logins,
    "exporter-self.json": exporter,
}


def dashboards_template():
    """The template of the mixin's grafanaDashboards: {file name: dashboard}."""
    boards = {name: builder() for name, builder in DASHBOARDS.items()}
    return {"derived": dict(sorted({**DESCRIPTION_VALUES.specs, **DERIVED.specs}.items())), "template": template(boards)}

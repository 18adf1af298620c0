#!/usr/bin/env python3
"""Generate the Grafana dashboards in dashboards/*.json.

Grafana 10/11 JSON (schemaVersion 39). Every panel and query uses the `datasource` template
variable, so the dashboards import into any Grafana with any Prometheus data source name.
KPI thresholds (99 % API success, 95 % login success, 0.5 s login, 2 s dashboard, 1 s policy
search, 3 s analytics, 2 s API p95, 500 ms mean query time) are drawn on the panels.

    python3 tools/gen_dashboards.py            # rewrite dashboards/*.json
    python3 tools/gen_dashboards.py --out DIR  # write elsewhere (dashboards/test.sh)
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_alerts import CAUSES  # noqa: E402  (the alerts that name a cause, shown first)

from dashboard_descriptions import DESCRIPTIONS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DS = {"type": "prometheus", "uid": "${datasource}"}
JOB = "mitra-exporter"

# KPI targets, the same numbers as the SLOs in tools/gen_alerts.py.
API_SUCCESS = 0.99
LOGIN_SUCCESS = 0.95
LATENCY = {"login": 0.5, "dashboard": 2, "policy_search": 1, "analytics": 3, "api": 2}
DB_MEAN_QUERY = 0.5

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
                 minimum=None, maximum=None, options=None, custom=None, mappings=None, transformations=None):
        self.kind, self.title, self.targets, self.unit = kind, title, targets, unit
        self.description, self.thresholds = description, thresholds
        self.width, self.height = width, height
        self.minimum, self.maximum = minimum, maximum
        self.options, self.custom, self.mappings = options, custom, mappings
        self.transformations = transformations

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
        if self.description and self.title in DESCRIPTIONS:
            raise SystemExit(f"panel {self.title!r}: description both in the panel and in tools/dashboard_descriptions.py")
        description = self.description or DESCRIPTIONS.get(self.title, "")
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


INSTANCE = query_variable("instance", "Exporter instance", f'label_values(up{{job="{JOB}"}}, instance)')
CHECK = query_variable("check", "Check", 'label_values(probe_success{instance=~"$instance",check!=""}, check)')
SCENARIO = query_variable("scenario", "Scenario",
                          'label_values(mitra_scenario_success{instance=~"$instance"}, scenario)')
ROLE = query_variable("role", "Role", 'label_values(mitra_scenario_runs_total{instance=~"$instance",role!=""}, role)')
SERVICE = query_variable("service", "Service", 'label_values(mitra_service_info{instance=~"$instance"}, service)')
PG_INSTANCE = query_variable("instance_name", "PostgreSQL", 'label_values(pg_up{instance=~"$instance"}, instance_name)')
DATNAME = query_variable("datname", "Database",
                         'label_values(pg_stat_database_numbackends{instance_name=~"$instance_name"}, datname)')


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


def either(counter, selector):
    return f'{{__name__=~"{counter}(_total)?",{selector}}}'


def percentile(q, metric, selector, by):
    return (f"histogram_quantile({q}, sum by ({', '.join(by + ['le'])}) "
            f"(rate({metric}_bucket{{{selector}}}[$__rate_interval])))")


# ---------------------------------------------------------------------------------------------
# 1. Agent Mitra overview


def overview():
    slo_ratio = 'mitra:slo_errors:ratio_rate{w}{{slo="{slo}"}}'

    def budget_left(slo):
        # Averaging the 1h ratios over 30 days weighs every hour equally: close to the exact
        # event-weighted budget when traffic is steady, and cheap to query. The ratios are
        # kept per service; the objective is one per SLO.
        return (f'1 - avg_over_time(mitra:slo_errors:ratio_rate1h{{slo="{slo}"}}[30d])\n'
                f'  / on (slo) group_left ()\n  (1 - mitra:slo_objective:ratio{{slo="{slo}"}})')

    kpi_stats = []
    for kpi, title, metric_selector in [
        ("login", "Login p95 (target < 0.5 s)", None),
        ("dashboard", "Dashboard p95 (target < 2 s)", 'kpi="dashboard"'),
        ("policy_search", "Policy search p95 (target < 1 s)", 'kpi="policy_search"'),
        ("analytics", "Analytics p95 (target < 3 s)", 'kpi="analytics"'),
    ]:
        if kpi == "login":
            expr = ("histogram_quantile(0.95, sum by (le) (\n"
                    "  rate(agentmitra_login_duration_seconds_bucket[$__rate_interval])\n"
                    '  or rate(mitra_probe_duration_seconds_bucket{step="login",role!=""}[$__rate_interval])\n))')
        else:
            expr = percentile(0.95, "mitra_probe_duration_seconds",
                              f'instance=~"$instance",{metric_selector}', [])
        kpi_stats.append(stat(title, [target(expr)], "s", thresholds=lower_is_better(LATENCY[kpi] * 0.8, LATENCY[kpi])))
    kpi_stats.append(stat("API p95 (target < 2 s)", [target(
        "histogram_quantile(0.95, sum by (le) (\n"
        "  rate(agentmitra_api_request_duration_seconds_bucket[$__rate_interval])\n"
        '  or rate(mitra_probe_duration_seconds_bucket{instance=~"$instance",check!=""}[$__rate_interval])\n))')],
        "s", thresholds=lower_is_better(LATENCY["api"] * 0.8, LATENCY["api"])))

    # What broke, first: the cause alerts (one per incident, alerts/runbook.md) of the chosen
    # services, and the exporter's own outage, which has no service. Symptoms they hold back
    # are in "Firing alerts" below.
    causes = "|".join(CAUSES)
    items = [
        Row("Cause"),
        table("Firing cause", [target(
            f'ALERTS{{alertstate="firing",alertname=~"{causes}",service=~"$service"}}\n'
            'or\nALERTS{alertstate="firing",alertname="MitraExporterDown",instance=~"$instance"}',
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
        stat("DB mean query time (target < 500 ms)", [target(
            'max(pg_stat_statements_mean_exec_seconds{instance=~"$instance"})')], "s",
            thresholds=lower_is_better(DB_MEAN_QUERY * 0.8, DB_MEAN_QUERY)),
        bargauge("Burn rate per SLO (1h)", [target(
            "mitra:slo_errors:ratio_rate1h\n  / on (slo) group_left ()\n(1 - mitra:slo_objective:ratio)",
            "{{slo}} {{service}} {{instance_name}}", instant=True)], "suffix:x",
            thresholds=lower_is_better(1, 14.4), minimum=0, width=24, height=7),
        Row("Endpoints"),
        timeseries("Check success ratio", [target(
            'sum by (check) (rate(mitra_probe_runs_total{instance=~"$instance",check=~"$check",result="success"}[$__rate_interval]))\n'
            '/\nsum by (check) (rate(mitra_probe_runs_total{instance=~"$instance",check=~"$check"}[$__rate_interval]))',
            "{{check}}")], "percentunit", thresholds=higher_is_better(API_SUCCESS), minimum=0, maximum=1),
        timeseries("Check latency p95", [target(
            percentile(0.95, "mitra_probe_duration_seconds", 'instance=~"$instance",check=~"$check"', ["check"]),
            "{{check}}")], "s", thresholds=lower_is_better(LATENCY["api"]), minimum=0),
        timeseries("Backend 5xx and 4xx per route", [
            target('sum by (route) (rate(agentmitra_api_requests_total{code=~"5.."}[$__rate_interval]))', "5xx {{route}}"),
            target('sum by (route) (rate(agentmitra_api_requests_total{code=~"4.."}[$__rate_interval]))', "4xx {{route}}"),
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
    check = 'instance=~"$instance",check=~"$check"'
    step = 'instance=~"$instance",scenario=~"$scenario",step!=""'
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
            'mitra_scenario_success{instance=~"$instance",scenario=~"$scenario"}', "{{scenario}}", instant=True)],
            "short", thresholds=higher_is_better(1), mappings=up_down, minimum=0, maximum=1, width=8),
        timeseries("Step success", [target(f"probe_success{{{step}}}", "{{scenario}} / {{step}}")], "short",
                   minimum=0, maximum=1, width=16),
        timeseries("Step duration p95", [target(
            percentile(0.95, "mitra_probe_duration_seconds", step, ["scenario", "step"]), "{{scenario}} / {{step}}")],
            "s", thresholds=lower_is_better(LATENCY["api"]), minimum=0),
        timeseries("Scenario duration p95", [target(
            percentile(0.95, "mitra_scenario_duration_seconds", 'instance=~"$instance",scenario=~"$scenario"', ["scenario"]),
            "{{scenario}}")], "s", minimum=0),
    ]
    return dashboard("mitra-api-health", "Agent Mitra API health",
                     "Per check and scenario step: success, failure reasons, phase timings, status codes, certificates.",
                     [INSTANCE, CHECK, SCENARIO], items, tags=["http"])


# ---------------------------------------------------------------------------------------------
# 3. PostgreSQL


def postgres():
    pg = 'instance_name=~"$instance_name"'
    db = 'instance_name=~"$instance_name",datname=~"$datname"'
    lic = 'instance_name=~"$instance_name",datname=~"$datname",schemaname="lic_schema"'
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
             thresholds=lower_is_better(DB_MEAN_QUERY * 0.8, DB_MEAN_QUERY), width=4),
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
        timeseries("Mean query time vs 500 ms target", [target(
            f"pg_stat_statements_mean_exec_seconds{{{pg}}}", "{{instance_name}}")], "s",
            thresholds=lower_is_better(DB_MEAN_QUERY), minimum=0),
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
            target(f"sum(rate(pg_stat_bgwriter_checkpoints_timed_total{{{pg}}}[$__rate_interval]))", "timed"),
            target(f"sum(rate(pg_stat_bgwriter_checkpoints_req_total{{{pg}}}[$__rate_interval]))", "requested"),
        ], "ops", minimum=0),
        timeseries("Checkpoint write and sync time", [
            target(f"sum(rate(pg_stat_bgwriter_checkpoint_write_time_total{{{pg}}}[$__rate_interval])) / 1000", "write"),
            target(f"sum(rate(pg_stat_bgwriter_checkpoint_sync_time_total{{{pg}}}[$__rate_interval])) / 1000", "sync"),
        ], "percentunit", minimum=0),
        # Buffers written, by writer: pg_stat_io from 16 (backends' writes left pg_stat_bgwriter in 17).
        timeseries("Buffers written", [
            target(f"sum(rate(pg_stat_bgwriter_buffers_checkpoint_total{{{pg}}}[$__rate_interval]))", "checkpointer"),
            target(f"sum(rate(pg_stat_bgwriter_buffers_clean_total{{{pg}}}[$__rate_interval]))", "background writer"),
            target(f'sum(rate(pg_stat_io_writes_total{{{pg},object="relation",backend_type!~"checkpointer|background writer"}}[$__rate_interval]))\n'
                   f"  or sum(rate(pg_stat_bgwriter_buffers_backend_total{{{pg}}}[$__rate_interval]))", "backends"),
        ], "ops", minimum=0),
        timeseries("WAL written", [target(
            f"sum by (instance_name) (rate(pg_stat_wal_bytes_total{{{pg}}}[$__rate_interval]))", "{{instance_name}}")],
            "Bps", minimum=0),
        # WAL writes and fsyncs: pg_stat_wal before 18, pg_stat_io (object="wal") from 18 on.
        timeseries("WAL writes and fsyncs", [
            target(f'sum(rate(pg_stat_io_writes_total{{{pg},object="wal"}}[$__rate_interval]))\n'
                   f"  or sum(rate(pg_stat_wal_write_total{{{pg}}}[$__rate_interval]))", "writes"),
            target(f'sum(rate(pg_stat_io_fsyncs_total{{{pg},object="wal"}}[$__rate_interval]))\n'
                   f"  or sum(rate(pg_stat_wal_sync_total{{{pg}}}[$__rate_interval]))", "fsyncs"),
        ], "ops", minimum=0),
        Row("I/O (pg_stat_io, PostgreSQL 16+)"),
        timeseries("Bytes read by backend type", [target(
            f"sum by (backend_type) (rate(pg_stat_io_read_bytes_total{{{pg}}}[$__rate_interval]))", "{{backend_type}}")],
            "Bps", minimum=0),
        timeseries("Bytes written and extended by backend type", [
            target(f"sum by (backend_type) (rate(pg_stat_io_write_bytes_total{{{pg}}}[$__rate_interval]))", "write {{backend_type}}"),
            target(f"sum by (backend_type) (rate(pg_stat_io_extend_bytes_total{{{pg}}}[$__rate_interval]))", "extend {{backend_type}}"),
        ], "Bps", minimum=0),
        timeseries("Time in I/O by backend type", [
            target(f"sum by (backend_type) (rate(pg_stat_io_read_time_seconds_total{{{pg}}}[$__rate_interval]))", "read {{backend_type}}"),
            target(f"sum by (backend_type) (rate(pg_stat_io_write_time_seconds_total{{{pg}}}[$__rate_interval]))", "write {{backend_type}}"),
            target(f"sum by (backend_type) (rate(pg_stat_io_fsync_time_seconds_total{{{pg}}}[$__rate_interval]))", "fsync {{backend_type}}"),
        ], "percentunit", minimum=0),
    ]
    return dashboard("mitra-postgres", "Agent Mitra PostgreSQL",
                     "Connections, transactions, cache, locks, top queries, mean query time vs 500 ms, lic_schema "
                     "vacuum and bloat, replication.", [INSTANCE, PG_INSTANCE, DATNAME], items, tags=["postgresql"])


# ---------------------------------------------------------------------------------------------
# 4. Logins


def logins():
    role = 'role=~"$role"'
    login_step = f'instance=~"$instance",step="login",{role}'
    items = [
        Row("Login success"),
        stat("Login success (1h)", [target('1 - mitra:slo_errors:ratio_rate1h{slo="login-success"}')], "percentunit",
             thresholds=higher_is_better(LOGIN_SUCCESS), width=6),
        stat("Login latency within 0.5 s (1h)", [target('1 - mitra:slo_errors:ratio_rate1h{slo="login-latency"}')],
             "percentunit", thresholds=higher_is_better(0.95), width=6),
        bargauge("Success by role (5m)", [target(f"1 - role:mitra_login_errors:ratio_rate5m{{{role}}}", "{{role}}",
                                                 instant=True)],
                 "percentunit", thresholds=higher_is_better(LOGIN_SUCCESS), minimum=0, maximum=1, width=12, height=5),
        timeseries("Attempts by role and outcome", [target(
            f"sum by (role, outcome) (rate(agentmitra_login_attempts_total{{{role}}}[$__rate_interval]))",
            "{{role}} {{outcome}}")], "reqps", minimum=0, custom={"stacking": {"mode": "normal"}}),
        timeseries("Failed logins by outcome", [target(
            f'sum by (outcome) (rate(agentmitra_login_attempts_total{{{role},outcome!="success"}}[$__rate_interval]))',
            "{{outcome}}")], "reqps", minimum=0),
        timeseries("Success ratio by role", [target(f"1 - role:mitra_login_errors:ratio_rate5m{{{role}}}", "{{role}}")],
                   "percentunit", thresholds=higher_is_better(LOGIN_SUCCESS), minimum=0, maximum=1),
        timeseries("Login scenarios by role", [target(
            f'mitra_scenario_success{{instance=~"$instance",{role}}}', "{{role}}")], "short", minimum=0, maximum=1),
        Row("Login duration"),
        timeseries("Login duration percentiles (audit trail)", [
            target(percentile(0.5, "agentmitra_login_duration_seconds", "", []), "p50"),
            target(percentile(0.95, "agentmitra_login_duration_seconds", "", []), "p95"),
            target(percentile(0.99, "agentmitra_login_duration_seconds", "", []), "p99"),
        ], "s", thresholds=lower_is_better(LATENCY["login"]), minimum=0),
        timeseries("Login step p95 by role (scenarios)", [target(
            percentile(0.95, "mitra_probe_duration_seconds", login_step, ["role"]), "{{role}}")], "s",
            thresholds=lower_is_better(LATENCY["login"]), minimum=0),
        timeseries("Login step phases by role (last run)", [target(
            f"probe_http_duration_seconds{{{login_step}}}", "{{role}} {{phase}}")], "s", minimum=0,
            custom={"stacking": {"mode": "normal"}, "fillOpacity": 40}),
        timeseries("Logins slower than 0.5 s", [target(
            'mitra:slo_errors:ratio_rate5m{slo="login-latency"}', "5m"), target(
            'mitra:slo_errors:ratio_rate1h{slo="login-latency"}', "1h")], "percentunit",
            thresholds=lower_is_better(0.05), minimum=0),
    ]
    return dashboard("mitra-logins", "Agent Mitra logins",
                     "Login attempts and outcomes by role, success against 95 %, duration against 500 ms.",
                     [INSTANCE, ROLE], items, tags=["logins"])


# ---------------------------------------------------------------------------------------------
# 5. Exporter self


def exporter():
    inst = f'job="{JOB}",instance=~"$instance"'
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


def render(builder):
    return json.dumps(builder(), indent=2, sort_keys=False) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(REPO, "dashboards"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, builder in DASHBOARDS.items():
        with open(os.path.join(args.out, name), "w") as handle:
            handle.write(render(builder))


if __name__ == "__main__":
    main()

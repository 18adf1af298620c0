#!/usr/bin/env python3
"""The Prometheus recording and alerting rules of the monitoring mixin (mixin/).

The source of the rules: this module builds them with placeholders for what a mixin user sets
in `_config` (series selector, runbook URL, severity names, SLO objectives and KPI
thresholds; see tools/mixin_template.py) and writes the template mixin/generated/rules.json.
Every burn-rate threshold is derived in the mixin from the SLO's objective and the burn-rate
table below, so a changed objective changes every rule that depends on it.
tools/render_mixin.py writes the template and renders alerts/rules/ from the mixin; the test
overlay for end-to-end tests (--max-for, --for-divisor, --window-divisor) is applied there,
with cap_for() and divide_windows() below.

    python3 tools/gen_alerts.py --list-alerts    # the alert names
"""

import argparse
import os
import re
import sys
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mixin_template import RUNBOOK, SELECTOR, Derived, sel, severity, template  # noqa: E402
from promyaml import number  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]

# Multi-window, multi-burn-rate alerts (The Site Reliability Workbook, ch. 5): a burn rate
# of 14.4 spends 2 % of a 30-day budget in one hour, 6 spends 5 % in six hours, 3 spends 10 %
# in a day, 1 spends it exactly in 30 days. The short window makes the alert stop soon after
# the burn stops.
BURN_RATES = [
    # severity, long window, short window, burn rate
    ("critical", "1h", "5m", 14.4),
    ("critical", "6h", "30m", 6),
    ("warning", "1d", "2h", 3),
    ("warning", "3d", "6h", 1),
]
SLO_PERIOD_HOURS = 30 * 24

# The numbers derived from `_config.slos` and `_config.kpis` that the rules use.
DERIVED = Derived()


@dataclass
class Histogram:
    """A latency source: a Prometheus histogram and the series of it that count."""
    metric: str
    selector: str = ""

    def count(self):
        return sel(f"{self.metric}_count", self.selector)

    def bucket(self, le):
        inner = f"{self.selector},le=\"{le}\"" if self.selector else f"le=\"{le}\""
        return sel(f"{self.metric}_bucket", inner)


@dataclass
class SLO:
    slo: str                # value of the `slo` label
    alert: str              # alert name prefix
    title: str              # for summaries
    objective: str          # `_config` path of the fraction of good events (or good time)
    bad: str                # what one bad event is, for descriptions
    events: list = field(default_factory=list)     # [(errors selector, total selector)]
    latency: list = field(default_factory=list)    # [Histogram]
    threshold: str = ""                            # latency SLOs: `_config` path of the seconds
    time_based: str = ""                           # time SLOs: instantaneous 0/1 badness expr
    by: list = field(default_factory=list)         # labels the SLO is evaluated per, besides `service`

    def percent(self, complement=False, times=1):
        """The objective (or with complement, the error budget) times `times` as a percentage."""
        return DERIVED.text(self.objective, complement=complement, times=100 * times)


def seconds_text(path):
    return DERIVED.text(path) + "s"

def latency_slo(slo, alert, title, objective, threshold, what, histograms):
    """A latency SLO: the share of `what` (events in `histograms`) within the `threshold` bucket."""
    return SLO(slo=slo, alert=alert, title=title, objective=f"slos.{objective}", threshold=threshold,
               bad=f"{what} took longer than {seconds_text(threshold)}", latency=histograms)



SLOS = [
    SLO(
        slo="api-availability", alert="MitraAPIAvailability", title="API availability",
        objective="slos.apiAvailability",
        bad="API checks and requests failed (failed HTTP checks and 5xx responses)",
        # Scenario steps are left out on purpose: a login scenario failing for one role is a
        # login problem (MitraLoginRoleFailing), not an API outage.
        events=[
            (sel("mitra_probe_runs_total", 'check!="",result="failure"'), sel("mitra_probe_runs_total", 'check!=""')),
            (sel("agentmitra_api_requests_total", 'code=~"5.."'), sel("agentmitra_api_requests_total")),
        ],
    ),
    SLO(
        slo="login-success", alert="MitraLoginSuccess", title="Login success",
        objective="slos.loginSuccess",
        bad="logins failed (audit-trail outcomes other than success, and failed login scenarios)",
        events=[
            (sel("agentmitra_login_attempts_total", 'outcome!="success"'), sel("agentmitra_login_attempts_total")),
            (sel("mitra_scenario_runs_total", 'role!="",result="failure"'), sel("mitra_scenario_runs_total", 'role!=""')),
        ],
    ),
    latency_slo("login-latency", "MitraLoginLatency", "Login latency", "loginLatency",
                "kpis.loginLatencySeconds", "logins",
                [Histogram("agentmitra_login_duration_seconds"),
                 Histogram("mitra_probe_duration_seconds", 'role!="",step="login"')]),
    latency_slo("dashboard-latency", "MitraDashboardLatency", "Dashboard latency", "dashboardLatency",
                "kpis.dashboardLatencySeconds", "dashboard requests",
                [Histogram("mitra_probe_duration_seconds", 'kpi="dashboard"')]),
    latency_slo("policy-search-latency", "MitraPolicySearchLatency", "Policy search latency",
                "policySearchLatency", "kpis.policySearchLatencySeconds", "policy searches",
                [Histogram("mitra_probe_duration_seconds", 'kpi="policy_search"')]),
    latency_slo("analytics-latency", "MitraAnalyticsLatency", "Analytics latency", "analyticsLatency",
                "kpis.analyticsLatencySeconds", "analytics requests",
                [Histogram("mitra_probe_duration_seconds", 'kpi="analytics"')]),
    latency_slo("api-latency", "MitraAPILatency",
                f"API latency (p95 < {seconds_text('kpis.apiLatencySeconds')})", "apiLatency",
                "kpis.apiLatencySeconds", "API checks and requests",
                [Histogram("agentmitra_api_request_duration_seconds"),
                 Histogram("mitra_probe_duration_seconds", 'check!=""')]),
    SLO(
        slo="db-query-time", alert="MitraDBQueryTime", title="Database mean query time",
        objective="slos.dbQueryTime", threshold="kpis.dbMeanQuerySeconds",
        bad=("the time the mean query time of {{ $labels.instance_name }} was above "
             + seconds_text("kpis.dbMeanQuerySeconds")),
        time_based=(f"max by (service, instance_name) ({sel('pg_stat_statements_mean_exec_seconds')})"
                    f" > bool {DERIVED.text('kpis.dbMeanQuerySeconds')}"),
        by=["instance_name"],
    ),
]

RECORD_SLO = "mitra:slo_errors:ratio_rate{window}"
RECORD_OBJECTIVE = "mitra:slo_objective:ratio"
RECORD_DB_SLOW = "instance_name:mitra_pg_mean_query_slow:bool"
RECORD_ROLE = "role:mitra_login_errors:ratio_rate5m"


# Every SLO, role and route ratio is kept per `service` (the label the exporter's `services:`
# config puts on each member's series; absent, the ratios are exactly what they were), so
# that a cause alert of a service can hold back the burn alerts of that service alone.
SERVICE = "service"


def _sum(by, expr):
    if by:
        return f"sum by ({', '.join(by)}) ({expr})"
    return f"sum({expr})"


def _rates(selectors, window):
    # `or` across metrics keeps every series: probe series always carry `check` or
    # `scenario` and the backend's series never do, so no label set is shared and dropped.
    return " or ".join(f"rate({s}[{window}])" for s in selectors)


def ratio_expr(errors, total):
    """errors / total, 0 when there were events but no errors, nothing when there were no events."""
    return f"(\n  {errors}\n  or\n  0 * {total}\n)\n/\n({total} > 0)\n"


def slo_ratio(slo, window):
    if slo.time_based:
        return f"avg_over_time({RECORD_DB_SLOW}[{window}])"
    by = [SERVICE] + slo.by
    if slo.events:
        errors = _sum(by, _rates([e for e, _ in slo.events], window))
        total = _sum(by, _rates([t for _, t in slo.events], window))
        return ratio_expr(errors, total)
    le = DERIVED.text(slo.threshold, fmt="le")
    total = _sum(by, _rates([h.count() for h in slo.latency], window))
    good = _sum(by, _rates([h.bucket(le) for h in slo.latency], window))
    return f"(\n  {total}\n  -\n  {good}\n)\n/\n({total} > 0)\n"


def login_role_rules():
    login = next(s for s in SLOS if s.slo == "login-success")
    errors = _sum([SERVICE, "role"], _rates([e for e, _ in login.events], "5m"))
    total = _sum([SERVICE, "role"], _rates([t for _, t in login.events], "5m"))
    return [{"record": RECORD_ROLE, "expr": ratio_expr(errors, total)}]


def slo_groups(base):
    """One group per SLO: its recording rules, then its alerts, so that the alerts read the
    ratios of the same evaluation (rules in a group run in order; groups run independently)."""
    groups = []
    for slo in SLOS:
        rules = [{"record": RECORD_OBJECTIVE, "expr": f"vector({DERIVED.text(slo.objective)})",
                  "labels": {"slo": slo.slo}}]
        if slo.time_based:
            rules.append({"record": RECORD_DB_SLOW, "expr": slo.time_based})
        for window in WINDOWS:
            rules.append({"record": RECORD_SLO.format(window=window), "expr": slo_ratio(slo, window),
                          "labels": {"slo": slo.slo}})
        rules += burn_alerts(base, slo)
        groups.append({"name": f"mitra-slo-{slo.slo}", "rules": rules})
    return groups


def _hours_text(hours):
    if hours % 24 == 0:
        return f"{number(hours / 24)} days"
    return f"{number(hours)} hours"


def runbook_url(base, alert):
    return f"{base}#{alert.lower()}"


def burn_alerts(base, slo):
    rules = []
    alert = f"{slo.alert}ErrorBudgetBurn"
    for level, long, short, rate in BURN_RATES:
        threshold = DERIVED.text(slo.objective, complement=True, times=rate)
        series = {w: f'{RECORD_SLO.format(window=w)}{{slo="{slo.slo}"}}' for w in (long, short)}
        expr = f"{series[long]} > {threshold}\nand\n{series[short]} > {threshold}\n"
        where = f" on {{{{ $labels.instance_name }}}}" if "instance_name" in slo.by else ""
        rules.append({
            "alert": alert,
            "expr": expr,
            "labels": {"severity": severity(level), "slo": slo.slo, "window": long},
            "annotations": {
                "summary": f"{slo.title} is burning its error budget {number(rate)}x too fast{where}",
                "description": (
                    f"{{{{ $value | humanizePercentage }}}} of {slo.bad} over the last {long} "
                    f"(and over {short}); the objective of {slo.percent()}% allows "
                    f"{slo.percent(complement=True)}%, so the alert threshold is {number(rate)} x "
                    f"{slo.percent(complement=True)}% = {slo.percent(complement=True, times=rate)}%. "
                    f"At this rate the 30-day error budget lasts {_hours_text(SLO_PERIOD_HOURS / rate)}."),
                "runbook_url": runbook_url(base, alert),
            },
        })
    return rules


@dataclass
class Alert:
    name: str
    expr: str
    severity: str
    for_: str
    summary: str
    description: str
    # Held after the condition clears, so that symptoms whose windows still hold the
    # incident stay inhibited (see CAUSE_HOLD).
    keep_firing_for: str = ""

    def rule(self, base):
        rule = {"alert": self.name, "expr": self.expr}
        if self.for_:
            rule["for"] = self.for_
        if self.keep_firing_for:
            rule["keep_firing_for"] = self.keep_firing_for
        rule["labels"] = {"severity": severity(self.severity)}
        rule["annotations"] = {"summary": self.summary, "description": self.description,
                               "runbook_url": runbook_url(base, self.name)}
        return rule


RECORD_ROUTE = "route:agentmitra_api_requests_{cls}:ratio_rate{window}"
ROUTE_RATIOS = [("5xx", "5..", "5m"), ("4xx", "4..", "5m"), ("4xx", "4..", "1d")]


def route_ratio_rules():
    rules = []
    for name, regex, window in ROUTE_RATIOS:
        code = f'code=~"{regex}"'
        errors = _sum([SERVICE, "route"], f'rate({sel("agentmitra_api_requests_total", code)}[{window}])')
        total = _sum([SERVICE, "route"], f'rate({sel("agentmitra_api_requests_total")}[{window}])')
        rules.append({"record": RECORD_ROUTE.format(cls=name, window=window), "expr": ratio_expr(errors, total)})
    return rules


# The paging model. Cause alerts name what broke and notify once per incident (critical, or
# warning for a route's errors);
# the symptoms they explain are held back by Alertmanager (deploy/alertmanager, `equal:
# [service]`) or, where a rule can tell, not raised at all. `service` comes from the
# exporter's declared `services:`; `mitra_service_dependency` says which services need which.
CAUSES = ["MitraServiceDown", "MitraLoginsFailing", "MitraLoginRoleFailing", "MitraPostgresDown", "MitraAPIServerErrors"]
# How long the inhibitors stay after their condition clears: the longest short window of a
# paging burn-rate alert (30m), so that the tail of an incident in the SLO windows does not
# page once the cause has resolved. Scaled by the test overlay's window divisor.
CAUSE_HOLD = "30m"
# The checks and scenarios of a service, each 1 (passing) or 0 (failing).
HAS_CHECK, HAS_ROLE, NO_ROLE, HAS_SERVICE = 'check!=""', 'role!=""', 'role=""', 'service!=""'
PROBE_OF_SERVICE = sel("probe_success", 'check!="",service!=""')
SCENARIO_OF_SERVICE = sel("mitra_scenario_success", 'service!=""')
SERVICE_MEMBERS = f"{PROBE_OF_SERVICE}\n  or\n  {SCENARIO_OF_SERVICE}"
SERVICE_DOWN = f"avg by (service) (\n  {SERVICE_MEMBERS}\n) < 0.5\n"
ROLE_FAILING = f"max by (service) ({sel('mitra_scenario_success', HAS_ROLE)}) == 0"
# Symptoms are not raised while their service is down, rather than only inhibited: their
# `for:` then starts after the service is back, so a check that recovers a few seconds after
# the others cannot page on its own once MitraServiceDown has resolved.
UNLESS_SERVICE_DOWN = ('unless on (service)\n'
                       f'avg by (service) ({PROBE_OF_SERVICE} or {SCENARIO_OF_SERVICE}) < 0.5\n')

POSTGRES_COLLECTORS = 'collector=~"postgres/.*"'

THRESHOLD_GROUPS = {
    "mitra-services": [
        # `for:` shorter than every symptom it holds back (logins 2m, endpoints and routes 5m,
        # and the fastest burn, 100 % errors, crossing 14.4 % of an hour after 8.6m): the
        # cause must reach Alertmanager first for the inhibition to catch them.
        Alert("MitraServiceDown", SERVICE_DOWN, "critical", "1m",
              "Service {{ $labels.service }} is down: most of its checks fail",
              "Only {{ $value | humanizePercentage }} of the checks and scenarios of service "
              "{{ $labels.service }} pass. One page for the service instead of one per endpoint, "
              "role and SLO: those are held back while this fires."),
        Alert("MitraLoginsFailing", f"{ROLE_FAILING}\n{UNLESS_SERVICE_DOWN}", "critical", "2m",
              "Logins of service {{ $labels.service }} fail for every role",
              "Every login scenario of service {{ $labels.service }} fails: nobody can log in. "
              "The per-role alerts are not raised while every role fails."),
        # Not a page of its own: the inhibitor that holds back every alert of a service while
        # a service it depends on is down (its cause pages there), and for CAUSE_HOLD after.
        Alert("MitraServiceDependencyDown",
              "max by (service, depends_on) (\n"
              f"  {sel('mitra_service_dependency')}\n"
              "  and on (depends_on)\n"
              "  label_replace(\n"
              f"    max by (service) ({sel('pg_up', HAS_SERVICE)} == 0)\n"
              "    or\n"
              f'    avg by (service) ({PROBE_OF_SERVICE} or {SCENARIO_OF_SERVICE}) < 0.5,\n'
              "    \"depends_on\", \"$1\", \"service\", \"(.+)\"\n"
              "  )\n"
              ")\n", "inhibit", "",
              "Service {{ $labels.service }} depends on {{ $labels.depends_on }}, which is down",
              "Inhibits the alerts of {{ $labels.service }} while {{ $labels.depends_on }} is down; "
              "routed to no receiver.", keep_firing_for=CAUSE_HOLD),
        # Likewise routed nowhere: a cause fired for this service; the burn-rate alerts (whose
        # windows keep the incident for up to 30 minutes) wait until CAUSE_HOLD after it.
        Alert("MitraServiceIncident",
              "label_replace(\n"
              "  max by (service, alertname) (ALERTS{alertstate=\"firing\",alertname=~\"" + "|".join(CAUSES) + "\"}),\n"
              "  \"cause\", \"$1\", \"alertname\", \"(.+)\"\n"
              ")\n", "inhibit", "",
              "{{ $labels.cause }} fired for service {{ $labels.service }}",
              "Inhibits the burn-rate alerts of {{ $labels.service }} while {{ $labels.cause }} "
              "fires and for a while after; routed to no receiver.", keep_firing_for=CAUSE_HOLD),
    ],
    "mitra-agentmitra": [
        Alert("MitraLoginRoleFailing",
              f"{RECORD_ROLE} > 0.5\nunless on (service)\n{ROLE_FAILING}\n{UNLESS_SERVICE_DOWN}", "critical", "5m",
              "Logins for {{ $labels.role }} are failing",
              "{{ $value | humanizePercentage }} of logins for role {{ $labels.role }} failed over the last "
              "5 minutes. One role is 1/7 of login traffic, so the overall login SLO can stay green while "
              "every user of this role is locked out. Not raised while every role fails (MitraLoginsFailing)."),
        Alert("MitraAPIServerErrors",
              RECORD_ROUTE.format(cls="5xx", window="5m") + " > 0.05\n", "warning", "5m",
              "Route {{ $labels.route }} answers with 5xx errors",
              "{{ $value | humanizePercentage }} of requests to {{ $labels.route }} returned a 5xx status "
              "over the last 5 minutes (threshold 5%)."),
        Alert("MitraAPIClientErrorSpike",
              f"{RECORD_ROUTE.format(cls='4xx', window='5m')} > 0.1\nand\n"
              f"{RECORD_ROUTE.format(cls='4xx', window='5m')} > 3 * {RECORD_ROUTE.format(cls='4xx', window='1d')}\n",
              "info", "10m",
              "Route {{ $labels.route }} returns unusually many 4xx responses",
              "{{ $value | humanizePercentage }} of requests to {{ $labels.route }} returned a 4xx status "
              "over the last 5 minutes, more than 10% and more than 3 times the share of the last day."),
    ],
    "mitra-endpoints": [
        # A check whose declared `endpoint` label is a route that answers 5xx is that route's
        # ticket (MitraAPIServerErrors), not a page per check that calls it.
        Alert("MitraEndpointDown",
              f'(\n  {sel("probe_success", HAS_CHECK)} == 0\n  or\n  {sel("mitra_scenario_success", NO_ROLE)} == 0\n)\n'
              'unless on (service, endpoint)\n'
              f'label_replace({RECORD_ROUTE.format(cls="5xx", window="5m")} > 0.05, "endpoint", "$1", "route", "(.*)")\n'
              + UNLESS_SERVICE_DOWN,
              "critical", "5m",
              "{{ with $labels.check }}Check {{ . }}{{ else }}Scenario {{ $labels.scenario }}{{ end }} "
              "has been failing for 5 minutes",
              "Every probe of {{ with $labels.check }}check {{ . }}{{ else }}scenario {{ $labels.scenario }}"
              "{{ end }} from {{ $labels.instance }} failed for at least 5 minutes."),
        Alert("MitraEndpointFlapping",
              f'changes({sel("probe_success", HAS_CHECK)}[30m]) > 6\n', "warning", "10m",
              "Check {{ $labels.check }} keeps switching between success and failure",
              "probe_success of check {{ $labels.check }} changed {{ $value }} times in the last 30 "
              "minutes. A flapping endpoint never stays down long enough for MitraEndpointDown."),
        Alert("MitraTLSCertificateExpiringSoon",
              f"{sel('probe_ssl_earliest_cert_expiry')} - time() < 14 * 86400\n", "warning", "10m",
              "TLS certificate of {{ with $labels.check }}{{ . }}{{ else }}{{ $labels.scenario }}{{ end }} "
              "expires soon",
              "The earliest certificate in the chain served to {{ with $labels.check }}check {{ . }}"
              "{{ else }}scenario {{ $labels.scenario }} step {{ $labels.step }}{{ end }} expires in "
              "{{ $value | humanizeDuration }} (threshold 14 days)."),
    ],
    "mitra-postgres": [
        Alert("MitraPostgresDown", f"{sel('pg_up')} == 0\n", "critical", "1m",
              "PostgreSQL {{ $labels.instance_name }} is unreachable",
              "The exporter on {{ $labels.instance }} cannot connect to and query PostgreSQL "
              "{{ $labels.instance_name }}."),
        Alert("MitraPostgresConnectionsNearMax",
              f"sum by (instance_name) ({sel('pg_stat_activity_count')})\n/\n"
              f"max by (instance_name) ({sel('pg_settings_max_connections')})\n> 0.8\n", "warning", "5m",
              "PostgreSQL {{ $labels.instance_name }} is close to max_connections",
              "{{ $value | humanizePercentage }} of max_connections are in use on "
              "{{ $labels.instance_name }} (threshold 80%)."),
        Alert("MitraPostgresDeadlocks",
              # Both spellings: OpenMetrics scrapes add _total to this counter's name.
              'sum by (instance_name, datname) (increase('
              + sel("", '__name__=~"pg_stat_database_deadlocks(_total)?"') + '[10m])) > 0\n',
              "warning", "",
              "Deadlocks in {{ $labels.instance_name }}/{{ $labels.datname }}",
              "{{ printf \"%.0f\" $value }} deadlock(s) were detected in database {{ $labels.datname }} "
              "on {{ $labels.instance_name }} in the last 10 minutes."),
        Alert("MitraPostgresLongRunningTransaction",
              f"max by (instance_name, datname) ({sel('pg_stat_activity_max_tx_duration')}) > 300\n",
              "warning", "2m",
              "Long-running transaction in {{ $labels.instance_name }}/{{ $labels.datname }}",
              "A transaction in database {{ $labels.datname }} on {{ $labels.instance_name }} has been "
              "open for {{ $value | humanizeDuration }} (threshold 5 minutes)."),
        Alert("MitraPostgresReplicationLag",
              f"max by (instance_name) ({sel('pg_replication_lag_seconds')}) > 30\n", "warning", "5m",
              "Replica {{ $labels.instance_name }} lags behind its primary",
              "PostgreSQL {{ $labels.instance_name }} replays WAL {{ $value | humanizeDuration }} behind "
              "its primary (threshold 30s)."),
    ],
    "mitra-exporter": [
        Alert("MitraExporterDown", f"{sel('up')} == 0\n", "critical", "5m",
              "mitra-exporter {{ $labels.instance }} cannot be scraped",
              "Prometheus failed to scrape {{ $labels.instance }} for 5 minutes; every check and "
              "database it watches is unobserved."),
        Alert("MitraExporterAbsent", f"absent({sel('up')})\n", "critical", "10m",
              "No mitra-exporter target is known to Prometheus",
              f"Prometheus has no target matching {{{SELECTOR}}}: service discovery or the scrape "
              "configuration lost the exporter, so no alert about Agent Mitra can fire."),
        # A failed HTTP check or scenario is a failed collector run too, but that is the
        # target's failure (MitraEndpointDown, the login alerts), not the exporter's; so
        # staleness by last success is for the PostgreSQL and SQL collectors, labelled with
        # their instance_name so that MitraPostgresDown can inhibit them.
        Alert("MitraExporterCollectorStale",
              'label_replace(\n'
              f'  (time() - {sel("mitra_exporter_collector_last_success_timestamp_seconds", POSTGRES_COLLECTORS)})\n'
              f'    / {sel("mitra_exporter_collector_interval_seconds")} > 3\n'
              '  or\n'
              f'  ({sel("mitra_exporter_collector_runs_total", POSTGRES_COLLECTORS)} >= 3\n'
              f'    unless {sel("mitra_exporter_collector_last_success_timestamp_seconds")}),\n'
              '  "instance_name", "$1", "collector", "postgres/([^/]+)/.*"\n'
              ')\n',
              "warning", "5m",
              "Collector {{ $labels.collector }} on {{ $labels.instance }} is stale",
              "Collector {{ $labels.collector }} has not succeeded for {{ $value | humanize }} of its "
              "intervals (threshold 3); its metrics show old values or none."),
        # Every collector, checks included, must at least run: a collector that has not
        # started a run in 15 minutes is stuck in the exporter. Collectors with intervals above
        # 5 minutes are left out, as 15 minutes would be less than three of their intervals.
        Alert("MitraExporterCollectorNotRunning",
              f"increase({sel('mitra_exporter_collector_runs_total')}[15m]) == 0\n"
              "and\n"
              f"{sel('mitra_exporter_collector_interval_seconds')} <= 300\n",
              "warning", "5m",
              "Collector {{ $labels.collector }} on {{ $labels.instance }} stopped running",
              "Collector {{ $labels.collector }} on {{ $labels.instance }} has not started a run in "
              "15 minutes although its interval is at most 5 minutes; the exporter's scheduler or the "
              "collector is stuck."),
        Alert("MitraExporterConfigReloadFailed",
              f"{sel('mitra_exporter_config_last_reload_successful')} == 0\n", "warning", "5m",
              "mitra-exporter {{ $labels.instance }} failed to reload its configuration",
              "The last configuration reload of {{ $labels.instance }} failed; it keeps running the "
              "previous configuration. See its log for the errors."),
        Alert("MitraExporterSeriesDropped",
              f"increase({sel('mitra_exporter_series_dropped_total')}[15m]) > 0\n", "info", "",
              "Collector {{ $labels.collector }} drops series",
              "Collector {{ $labels.collector }} on {{ $labels.instance }} dropped "
              "{{ printf \"%.0f\" $value }} series in the last 15 minutes because of a series limit."),
    ],
}


# Recording rules that only these alerts (and the dashboards) use, kept in their group.
GROUP_RECORDS = {"mitra-agentmitra": lambda: login_role_rules() + route_ratio_rules()}


def threshold_groups(base):
    groups = []
    for name, alerts in THRESHOLD_GROUPS.items():
        records = GROUP_RECORDS.get(name, lambda: [])()
        groups.append({"name": name, "rules": records + [a.rule(base) for a in alerts]})
    return groups


def alert_names():
    names = [f"{slo.alert}ErrorBudgetBurn" for slo in SLOS]
    for alerts in THRESHOLD_GROUPS.values():
        names += [a.name for a in alerts]
    return names


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration):
    match = re.fullmatch(r"(\d+)([smhd])", duration)
    if not match:
        raise SystemExit(f"gen_alerts: invalid duration {duration!r} (use e.g. 15s, 5m)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def cap_for(groups, max_for, for_divisor=None):
    """Every `for:` divided by for_divisor (at least 1s), then capped at max_for. Dividing keeps
    the order the committed rules rely on: a cause (`for: 2m`) fires before the symptoms it
    inhibits (`for: 5m`), as it does in production."""
    limit = seconds(max_for) if max_for else None
    for group in groups:
        for rule in group["rules"]:
            if "for" not in rule:
                continue
            value = seconds(rule["for"])
            if for_divisor:
                value = max(1, value // for_divisor)
            if limit is not None and value > limit:
                value = limit
            if value != seconds(rule["for"]):
                rule["for"] = f"{value}s"
    return groups


def divide_windows(groups, divisor):
    """Shrink the range windows of the recording rules (the SLO and error ratios), keeping
    their names, so an end-to-end test sees a 1h burn in a minute (divisor 60)."""
    def shrink(match):
        return f"[{max(1, seconds(match.group(1)) // divisor)}s]"
    for group in groups:
        for rule in group["rules"]:
            if "record" in rule:
                rule["expr"] = re.sub(r"\[(\d+[smhd])\]", shrink, rule["expr"])
            # The hold covers the windows of the burn-rate alerts, so it shrinks with them.
            if "keep_firing_for" in rule:
                rule["keep_firing_for"] = f"{max(1, seconds(rule['keep_firing_for']) // divisor)}s"
    return groups


def overlay(groups, max_for=None, window_divisor=None, for_divisor=None):
    """The end-to-end test overlay, applied to rendered rule groups (tools/render_mixin.py)."""
    if max_for or for_divisor:
        cap_for(groups, max_for, for_divisor)
    if window_divisor:
        divide_windows(groups, window_divisor)
    return groups


def rules_template():
    """The template of the mixin's prometheusRules (the SLO groups: their recording rules and,
    in the same group so they read the ratios of the same evaluation, their burn-rate alerts)
    and prometheusAlerts (the threshold alerts, with the recording rules only they use)."""
    rules = {"prometheusRules": {"groups": slo_groups(RUNBOOK)},
             "prometheusAlerts": {"groups": threshold_groups(RUNBOOK)}}
    return {"derived": dict(sorted(DERIVED.specs.items())), "template": template(rules)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list-alerts", action="store_true", help="print the alert names and exit")
    args = parser.parse_args()
    if args.list_alerts:
        print("\n".join(alert_names()))
        return
    parser.error("rules are rendered from the mixin: run python3 tools/render_mixin.py")


if __name__ == "__main__":
    main()

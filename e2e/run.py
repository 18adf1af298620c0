#!/usr/bin/env python3
"""Assertions of the end-to-end test; e2e/test.sh starts everything and runs this.

With PostgreSQL, the demo API, mitra-exporter, Prometheus (rules: the test overlay of
alerts/) and Alertmanager (deploy/alertmanager/alertmanager.yml pointed at the webhook
receiver of e2e/servers.py) running, it

  1. waits until every check, scenario and collector reports, and checks that no alert
     fires while all is well;
  2. injects each failure through the demo API's switches (or stops PostgreSQL), waits for
     the matching alerts to reach the webhook with the right labels, checks that nothing
     unrelated reached it, restores, and waits for the resolved notifications;
  3. evaluates every PromQL expression of every dashboard panel and template variable and
     of every loaded rule over the whole run, and checks that each parses and has data.

Python 3 standard library only. Every wait polls against a deadline.
"""

import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ROLES = ["role-super-admin", "role-provider-admin", "role-regional-manager", "role-senior-agent",
         "role-junior-agent", "role-policyholder", "role-support-staff"]
CHECKS = ["health", "dashboard", "policy-search", "analytics", "policies-require-auth", "tls-edge"]
# The SLO burn alerts whose short window is longer than the test can wait once the failure
# is gone (with --window-divisor 60: 2h -> 120s, 6h -> 360s). They may keep firing after a
# scenario that legitimately started them; the next scenarios treat them as carried over.
SLOW_BURN_WINDOWS = {"1d", "3d"}

# Expressions (dashboard panels) that may legitimately have no data in this setup, and why.
# The test runs a TLS endpoint for the certificate panels, a standby for the replication
# panels, and fast autovacuum for the vacuum panels; its server is PostgreSQL 15.
NO_DATA_EXPECTED = {"pg_stat_io_": "pg_stat_io exists from PostgreSQL 16 on; the test server is 15"}


class Failure(Exception):
    pass


class Results:
    def __init__(self):
        self.items = []

    def record(self, name, ok, detail=""):
        self.items.append((name, ok, detail))
        mark = "ok  " if ok else "FAIL"
        print(f"{mark} {name}" + (f": {detail}" if detail and not ok else (f" ({detail})" if detail else "")), flush=True)

    @property
    def failed(self):
        return [item for item in self.items if not item[1]]


def log(text):
    print(f"  [{time.strftime('%H:%M:%S')}] {text}", flush=True)


def http(method, url, body=None, headers=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class Prometheus:
    def __init__(self, base):
        self.base = base.rstrip("/")

    def api(self, path, **params):
        url = f"{self.base}/api/v1/{path}"
        body = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            try:
                return json.load(error)
            except ValueError:
                return {"status": "error", "error": f"HTTP {error.code}"}

    def query(self, expr):
        answer = self.api("query", query=expr)
        if answer.get("status") != "success":
            raise Failure(f"query {expr!r}: {answer.get('error')}")
        return answer["data"]["result"]

    def alerts(self):
        request = urllib.request.Request(f"{self.base}/api/v1/alerts")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["data"]["alerts"]

    def rules(self):
        with urllib.request.urlopen(f"{self.base}/api/v1/rules", timeout=10) as response:
            return json.load(response)["data"]["groups"]


class Webhook:
    """The notifications the webhook receiver recorded, one JSON line each."""

    def __init__(self, path):
        self.path = path

    def notifications(self):
        if not os.path.exists(self.path):
            return []
        with open(self.path) as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def alerts(self, since=0):
        """(received, route path, status, labels) of every alert in every notification from
        index `since` on."""
        out = []
        for note in self.notifications()[since:]:
            for alert in note["payload"].get("alerts", []):
                out.append((note["received"], note["path"], alert["status"], alert["labels"]))
        return out

    def state(self):
        """Latest status of each alert (by its label set) over all notifications."""
        latest = {}
        for _, path, status, labels in self.alerts():
            latest[key(labels)] = (status, labels, path)
        return latest


def slow_burn(labels):
    return labels.get("alertname", "").endswith("ErrorBudgetBurn") and labels.get("window") in SLOW_BURN_WINDOWS


def key(labels):
    return tuple(sorted(labels.items()))


def matches(labels, pattern):
    for name, want in pattern.items():
        have = labels.get(name, "")
        if want.startswith("~"):
            if not re.fullmatch(want[1:], have):
                return False
        elif have != want:
            return False
    return True


def describe(labels):
    keep = ["alertname", "severity", "service", "slo", "window", "role", "check", "scenario", "route", "instance_name",
            "collector", "cause", "depends_on"]
    return "{" + ", ".join(f"{k}={labels[k]}" for k in keep if k in labels) + "}"


def wait_until(what, deadline_seconds, probe, interval=1.0):
    """Polls probe() until it returns a true value or the deadline passes; returns the last
    value (falsy on timeout)."""
    deadline = time.monotonic() + deadline_seconds
    value = None
    while True:
        try:
            value = probe()
        except (Failure, OSError, urllib.error.URLError, ValueError):
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            log(f"gave up waiting for {what} after {deadline_seconds}s")
            return value
        time.sleep(interval)


# ---------------------------------------------------------------------------------------
# 1. Ready and quiet


def ready(prom):
    problems = []
    def values(expr):
        return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in prom.query(expr)}
    if not any(v == 1 for v in values('up{job="mitra-exporter"}').values()):
        problems.append("exporter target not up")
    if not any(v == 1 for v in values('pg_up{instance_name="agentmitra"}').values()):
        problems.append("pg_up is not 1")
    checks = {dict(k).get("check") for k, v in values('probe_success{check!=""}').items() if v == 1}
    problems += [f"check {c} not succeeding" for c in CHECKS if c not in checks]
    roles = {dict(k).get("role") for k, v in values("mitra_scenario_success").items() if v == 1}
    problems += [f"login scenario for {r} not succeeding" for r in ROLES if r not in roles]
    if not values('mitra_scenario_success{scenario="agent-quote"} == 1'):
        problems.append("scenario agent-quote not succeeding")
    logins = {dict(k).get("role") for k in values('rate(agentmitra_login_attempts_total{outcome="success"}[10s]) > 0')}
    problems += [f"no audited logins for {r}" for r in ROLES if r not in logins]
    if not values('sum(rate(agentmitra_api_requests_total[10s])) > 0'):
        problems.append("no API request log counted")
    if not values('mitra:slo_errors:ratio_rate5m{slo="login-success"}'):
        problems.append("SLO recording rules have no data yet")
    return problems


def phase_ready(prom, webhook, results, timeout):
    started = time.monotonic()
    last = wait_until("everything to report", timeout, lambda: ready(prom) == [] or None)
    problems = [] if last else ready(prom)
    results.record("exporter, checks, scenarios, SQL queries and rules report", not problems,
                   "; ".join(problems) if problems else f"{time.monotonic() - started:.0f}s")
    return not problems


def phase_quiet(prom, webhook, results, seconds):
    """Nothing fires while everything is healthy (for `seconds`, longer than every capped for:)."""
    time.sleep(seconds)
    firing = [a for a in prom.alerts() if a["state"] == "firing"]
    notes = webhook.alerts()
    detail = "; ".join(describe(a["labels"]) for a in firing) + "; ".join(describe(l) for _, _, _, l in notes)
    results.record(f"no alert fires while healthy ({seconds}s)", not firing and not notes, detail)


# ---------------------------------------------------------------------------------------
# 2. Failure scenarios


RECEIVERS = ("critical", "warning", "info")  # the webhook paths, one per severity


class Scenario:
    def __init__(self, name, inject, restore, critical=(), warning=(), info=(), budget=(), hold=(), fire_timeout=90,
                 resolve_timeout=90, settle=8):
        """critical/warning/info: the EXACT notification groups each receiver must get, one label
        pattern per group (every alert of the group matches it). budget: SLOs whose slow-burn
        warnings (windows 1d and 3d, short windows 120s and 360s here) may follow the incident
        once its cause has resolved: they report the error budget the incident spent.
        hold: (description, PromQL, labels) — the PromQL must have data in Prometheus while
        the fault lasts, yet no alert with those labels may reach any receiver (inhibited).
        settle: seconds to wait after the expected notifications, for any extra one."""
        self.name = name
        self.inject = inject
        self.restore = restore
        self.expected = {"critical": list(critical), "warning": list(warning), "info": list(info)}
        self.budget = set(budget)
        self.hold = list(hold)
        self.fire_timeout = fire_timeout
        self.resolve_timeout = resolve_timeout
        self.settle = settle


def groups(webhook, since, carried):
    """{receiver: {groupKey: [labels of the firing alerts it notified]}} from index `since`,
    leaving out the alerts carried from earlier phases."""
    found = {}
    for note in webhook.notifications()[since:]:
        receiver = note["path"].strip("/")
        payload = note["payload"]
        for alert in payload.get("alerts", []):
            if alert["status"] != "firing" or key(alert["labels"]) in carried:
                continue
            found.setdefault(receiver, {}).setdefault(payload.get("groupKey", ""), []).append(alert["labels"])
    return found


def budget_warning(labels, scenario):
    return slow_burn(labels) and labels.get("severity") == "warning" and labels.get("slo") in scenario.budget


def compare(scenario, found):
    """(missing, unexpected): expected groups no notification matched, and notified groups
    no expectation names (or a second group for one expectation), per receiver."""
    missing, unexpected, budget = [], [], []
    for receiver in sorted(set(RECEIVERS) | set(found)):
        patterns = scenario.expected.get(receiver, [])
        used = [0] * len(patterns)
        for alerts in found.get(receiver, {}).values():
            if receiver == "warning" and all(budget_warning(l, scenario) for l in alerts):
                budget += alerts
                continue
            hits = [i for i, p in enumerate(patterns) if all(matches(l, p) for l in alerts)]
            if hits:
                used[hits[0]] += 1
                if used[hits[0]] == 1:
                    continue
            unexpected.append(f"{receiver}: " + ", ".join(sorted({describe(l) for l in alerts})))
        missing += [f"{receiver}: {describe(p)}" for i, p in enumerate(patterns) if not used[i]]
    return missing, unexpected, budget


def run_scenario(scenario, prom, webhook, results):
    print(f"-- {scenario.name}", flush=True)
    start_index = len(webhook.notifications())
    carried = {k for k, (status, labels, _) in webhook.state().items() if status == "firing"}
    if carried:
        log("still firing from before (slow-burn warnings): " + ", ".join(describe(dict(k)) for k in sorted(carried)))
    injected = time.monotonic()
    scenario.inject()

    got = wait_until(f"{scenario.name} notifications", scenario.fire_timeout,
                     lambda: not compare(scenario, groups(webhook, start_index, carried))[0] or None)
    missing = compare(scenario, groups(webhook, start_index, carried))[0]
    wanted = ", ".join(f"{r}: {describe(p)}" for r in RECEIVERS for p in scenario.expected[r]) or "nothing"
    results.record(f"{scenario.name}: {wanted} reaches its receiver", not missing,
                   ("missing " + "; ".join(missing)) if missing else f"after {time.monotonic() - injected:.0f}s")
    # Long enough for anything the fault also starts to show up (every symptom's `for:` in
    # the overlay is at most 10s; Alertmanager waits 1s per group).
    time.sleep(scenario.settle)
    for description, expr, pattern in scenario.hold:
        held = wait_until(description, 45, lambda: prom.query(expr) or None)
        leaked = [l for _, _, s, l in webhook.alerts(start_index) if s == "firing" and matches(l, pattern)]
        results.record(f"{scenario.name}: {description}", bool(held) and not leaked,
                       "never fired in Prometheus" if not held else ", ".join(describe(l) for l in leaked))
    misrouted = [f"{describe(labels)} at {path}" for _, path, status, labels in webhook.alerts(start_index)
                 if status == "firing" and labels.get("severity") and path != "/" + labels["severity"]]
    results.record(f"{scenario.name}: notifications arrive at the receiver of their severity", not misrouted,
                   ", ".join(misrouted))
    restored = time.monotonic()
    scenario.restore()

    def resolved():
        pending = [labels for k, (status, labels, _) in webhook.state().items()
                   if status == "firing" and k not in carried and not slow_burn(labels)]
        firing = [a["labels"] for a in prom.alerts() if a["state"] == "firing" and not slow_burn(a["labels"])]
        return (not pending and not firing, pending, firing)

    got = wait_until(f"{scenario.name} to resolve", scenario.resolve_timeout, lambda: resolved()[0] or None)
    _, pending, firing = (True, [], []) if got else resolved()
    # Alertmanager notifies what the ended holds released at the next flush of each group
    # (group_interval 2s here): wait for it, so that it is counted in this phase.
    time.sleep(5)
    detail = ""
    if pending or firing:
        detail = "still firing: " + ", ".join(describe(l) for l in pending + firing)
    else:
        detail = f"after {time.monotonic() - restored:.0f}s"
    results.record(f"{scenario.name}: notifications resolve after the restore", not pending and not firing, detail)

    # Exact, over the whole phase (the tail after the restore included): each receiver got
    # the expected groups and nothing else.
    missing, unexpected, budget = compare(scenario, groups(webhook, start_index, carried))
    results.record(f"{scenario.name}: exactly the expected notifications at each receiver", not missing and not unexpected,
                   "; ".join(["missing " + m for m in missing] + ["unexpected " + u for u in unexpected]))
    if budget:
        log("slow-burn budget warnings after the incident: " + ", ".join(sorted({describe(l) for l in budget})))
    fired_names = sorted({f"{path} {describe(l)}" for _, path, s, l in webhook.alerts(start_index) if s == "firing"})
    log("notified: " + ("; ".join(fired_names) if fired_names else "nothing"))


def switches(admin, secret):
    headers = {"X-Demo-Admin-Secret": secret}

    def put(body):
        def action():
            status, text = http("PUT", f"{admin}/switches", body, headers)
            if status != 200:
                raise Failure(f"PUT /switches {body}: {status} {text}")
            log(f"switches: {json.dumps(body)}")
        return action

    def clear():
        status, text = http("DELETE", f"{admin}/switches", headers=headers)
        if status != 200:
            raise Failure(f"DELETE /switches: {status} {text}")
        log("switches cleared")

    return put, clear


def pg_control(cluster_script, directory, port, command):
    def action():
        subprocess.run([cluster_script, command, directory, port], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        log(f"PostgreSQL {command}")
    return action


class Exporter:
    """Stops and starts the exporter the test script started (its pid in a file the script's
    cleanup reads), with the same command line and log."""

    def __init__(self, pidfile, command, logfile, url):
        self.pidfile, self.command, self.logfile, self.url = pidfile, command, logfile, url
        self.process = None   # once this test started it: reaped here, not by the script

    def stop(self):
        with open(self.pidfile) as handle:
            pid = int(handle.read().strip())
        os.kill(pid, signal.SIGTERM)
        if self.process is not None and self.process.pid == pid:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                raise Failure(f"the exporter (pid {pid}) did not stop within 10s of SIGTERM")
        else:
            # The script's child: it reaps it; gone from the process table means stopped.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                raise Failure(f"the exporter (pid {pid}) did not stop within 10s of SIGTERM")
        log("exporter stopped")

    def start(self):
        with open(self.logfile, "a") as log_handle:
            self.process = process = subprocess.Popen(self.command, stdout=log_handle, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        with open(self.pidfile, "w") as handle:
            handle.write(f"{process.pid}\n")
        if not wait_until("the exporter to be ready", 30, lambda: http("GET", f"{self.url}/-/ready", timeout=2)[0] == 200 or None,
                          interval=0.2):
            raise Failure("the restarted exporter did not become ready within 30s")
        log(f"exporter started (pid {process.pid})")


def sequence(*actions):
    def action():
        for step in actions:
            step()
    return action


def psql(args, sql):
    def action():
        env = dict(os.environ, PGPASSWORD=os.environ["MITRA_TEST_PG_PASSWORD"], PGOPTIONS="-c client_min_messages=warning")
        subprocess.run([args.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", args.pg_port,
                        "-U", os.environ["MITRA_TEST_PG_USER"], "-d", "agentmitra", "-c", sql],
                       check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
        log(f"psql: {sql}")
    return action


API = "agentmitra-api"


def scenarios(args):
    put, clear = switches(args.admin_url, args.admin_secret)
    exporter = Exporter(args.exporter_pidfile, json.loads(args.exporter_cmd), args.exporter_log, args.exporter_url)
    return [
        Scenario(
            "one role cannot log in",
            put({"login_disabled_roles": ["role-junior-agent"]}), clear,
            # The demo answers the disabled role with 500 (audited as outcome `error`): the
            # /auth/login 5xx warning and the burns are held back by the role's critical alert.
            critical=[{"alertname": "MitraLoginRoleFailing", "severity": "critical", "service": API, "role": "role-junior-agent"}],
            budget=["login-success", "api-availability"]),
        Scenario(
            "one route answers 500",
            put({"failing_routes": ["/analytics/dashboard"]}), clear,
            # The dashboard and analytics checks both call that route (their `endpoint`
            # label): the route's warning is the one notification, no critical alert per check.
            warning=[{"alertname": "MitraAPIServerErrors", "severity": "warning", "service": API, "route": "/analytics/dashboard"}],
            budget=["api-availability"]),
        Scenario(
            "policy search slow (1.5 s)",
            put({"latency_seconds": {"/policies/": 1.5}}), clear,
            critical=[{"alertname": "MitraPolicySearchLatencyErrorBudgetBurn", "severity": "critical", "service": API,
                   "slo": "policy-search-latency"}],
            budget=["policy-search-latency"], fire_timeout=120),
        Scenario(
            "database down",
            pg_control(args.pg_script, args.pg_dir, args.pg_port, "stop"),
            pg_control(args.pg_script, args.pg_dir, args.pg_port, "start"),
            # Every check and login of the API fails with it; the API's alerts are held back
            # by MitraServiceDependencyDown, the stale collectors by MitraPostgresDown.
            critical=[{"alertname": "MitraPostgresDown", "severity": "critical", "instance_name": "agentmitra", "service": "agentmitra-db"}],
            budget=["api-availability", "login-success"],
            hold=[("MitraServiceDown of the API fires in Prometheus but is inhibited by MitraServiceDependencyDown",
                   f'ALERTS{{alertname="MitraServiceDown",alertstate="firing",service="{API}"}}',
                   {"alertname": "MitraServiceDown"}),
                  ("MitraExporterCollectorStale fires in Prometheus but is inhibited by MitraPostgresDown",
                   'ALERTS{alertname="MitraExporterCollectorStale",alertstate="firing",instance_name="agentmitra"}',
                   {"alertname": "MitraExporterCollectorStale"})]),
        Scenario(
            "backend answers 503 everywhere (maintenance)",
            put({"maintenance": True}), clear,
            critical=[{"alertname": "MitraServiceDown", "severity": "critical", "service": API}],
            budget=["api-availability", "login-success"],
            # Logins and endpoints are not raised while the service is down; the burn pages
            # are, and Alertmanager holds them back.
            hold=[("the availability burn page fires in Prometheus but is inhibited by MitraServiceDown",
                   f'ALERTS{{alertname="MitraAPIAvailabilityErrorBudgetBurn",alertstate="firing",severity="critical",service="{API}"}}',
                   {"alertname": "MitraAPIAvailabilityErrorBudgetBurn", "severity": "critical"})]),
        Scenario(
            "exporter cannot be scraped",
            exporter.stop, exporter.start,
            critical=[{"alertname": "MitraExporterDown", "severity": "critical", "job": "mitra-exporter"}]),
        Scenario(
            "pg_stat_statements reset and counter reset (exporter restarted)",
            sequence(psql(args, "SELECT pg_stat_statements_reset()"), exporter.stop, exporter.start), lambda: None,
            settle=30),
    ]


# ---------------------------------------------------------------------------------------
# 3. Every dashboard and rule expression parses and has data


def dashboard_expressions(directory):
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        with open(path) as handle:
            dashboard = json.load(handle)
        name = os.path.basename(path)

        def panels(items):
            for panel in items:
                yield panel
                yield from panels(panel.get("panels", []))

        for panel in panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    yield f'{name} panel "{panel.get("title")}" {target.get("refId")}', target["expr"]
        for variable, query, match in query_variables(dashboard):
            if match:
                yield f"{name} variable ${variable['name']}", match.group(1)
            elif not query.startswith("label_values("):
                yield f"{name} variable ${variable['name']}", query


def query_variables(dashboard):
    """(variable, query, label_values match or None) of each query variable of a dashboard."""
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        yield variable, query, re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query, flags=re.S)


def substitute(expr, range_seconds, values=None):
    """Grafana's variables, as Grafana fills them for this run: a rate interval of a few
    scrapes, and each template variable either "All" (`.*`) or the value chosen in `values`."""
    expr = expr.replace("$__rate_interval", "10s").replace("${__rate_interval}", "10s")
    expr = expr.replace("$__interval", "2s").replace("${__interval}", "2s")
    expr = expr.replace("$__range", f"{range_seconds}s").replace("${__range}", f"{range_seconds}s")
    values = values or {}
    return re.sub(r"\$\{?(\w+)(?::\w+)?\}?", lambda m: values[m.group(1)] if m.group(1) in values else ".*", expr)


# One concrete selection per template variable, as an engineer would pick it: every panel
# must also have data for it, and each variable's query must offer it.
CHOSEN = {"check": "tls-edge", "role": "role-junior-agent", "scenario": "login-junior-agent",
          "instance_name": "agentmitra", "datname": "agentmitra"}


def dashboard_variables(directory):
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        with open(path) as handle:
            dashboard = json.load(handle)
        for variable, _, match in query_variables(dashboard):
            if match:
                yield os.path.basename(path), variable["name"], match.group(1), match.group(2)


def variable_values(prom, directory, start, end):
    """The values each template variable offers over the run, and the problems found."""
    offered, problems = {}, []
    for dashboard, name, expr, label in dashboard_variables(directory):
        query = f"group by ({label}) ({substitute(expr, int(end - start) + 1)})"
        answer = prom.api("query_range", query=query, start=f"{start:.3f}", end=f"{end:.3f}", step="2")
        if answer.get("status") != "success":
            problems.append(f"{dashboard} ${name}: {answer.get('error')}")
            continue
        values = {series["metric"].get(label, "") for series in answer["data"]["result"]} - {""}
        offered.setdefault(name, set()).update(values)
        if not values:
            problems.append(f"{dashboard} ${name}: offers no value")
        elif name in CHOSEN and CHOSEN[name] not in values:
            problems.append(f"{dashboard} ${name}: does not offer {CHOSEN[name]} (offers {sorted(values)})")
    return offered, problems


def has_data(prom, expr, start, end):
    answer = prom.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step="2")
    if answer.get("status") != "success":
        return None, answer.get("error", "error")
    return any(series.get("values") for series in answer["data"]["result"]), ""


# A vector selector: a metric name, its matchers, or both (`{__name__=~"..."}`).
SELECTOR = re.compile(r'(?:([A-Za-z_:][A-Za-z0-9_:]*)\s*)?(\{(?:[^{}"]|"(?:[^"\\]|\\.)*")*\})|([A-Za-z_:][A-Za-z0-9_:]*)')
NOT_METRICS = {
    "sum", "min", "max", "avg", "count", "topk", "bottomk", "by", "without", "on", "ignoring", "group_left",
    "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan", "le", "vector", "time", "scalar",
    "stddev", "stdvar", "quantile", "count_values", "group",
}


def selectors(expr):
    """The vector selectors of an expression (metric names with their matchers): enough to
    tell which part of an alert condition has no data."""
    # Blank out (keeping offsets) strings, grouping label lists, ranges and numbers.
    def blank(m):
        return " " * len(m.group(0))
    text = re.sub(r'"(?:[^"\\]|\\.)*"', blank, expr)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", blank, text)
    text = re.sub(r"\[[^\]]*\]", blank, text)
    text = re.sub(r"\b[0-9][0-9.]*(e[+-]?[0-9]+)?\b", blank, text)
    found = []
    for match in SELECTOR.finditer(text):
        name = match.group(1) or match.group(3) or ""
        rest = text[match.end():].lstrip()
        if match.group(2) is None and (name in NOT_METRICS or rest.startswith("(")):
            continue
        if name in NOT_METRICS:
            name = ""
        matchers = expr[match.start(2):match.end(2)] if match.group(2) else ""
        found.append(name + matchers)
    return found


def phase_expressions(prom, results, dashboards_dir, start):
    end = time.time()
    range_seconds = int(end - start) + 1
    # Dashboards: the template variables, then every expression with "All" selected and
    # with one concrete value of each variable.
    offered, problems = variable_values(prom, dashboards_dir, start, end)
    results.record("dashboards: every template variable offers the run's label values", not problems,
                   "\n    ".join([""] + problems))
    chosen = dict(CHOSEN)
    if offered.get("instance"):
        chosen["instance"] = sorted(offered["instance"])[0]
    empty, broken, count = [], [], 0
    for where, expr in dashboard_expressions(dashboards_dir):
        count += 1
        for selection, values in (("All", None), ("one value each", chosen)):
            query = substitute(expr, range_seconds, values)
            ok, error = has_data(prom, query, start, end)
            if ok is None:
                broken.append(f"{where}: {error}")
                break
            if not ok:
                excused = [m for m in NO_DATA_EXPECTED if m in query]
                if excused:
                    log(f"no data, as expected ({NO_DATA_EXPECTED[excused[0]]}): {where}")
                else:
                    empty.append(f"{where} [{selection}]: {query}")
    results.record(f"dashboards: {count} expressions parse", not broken, "\n    ".join([""] + broken))
    results.record("dashboards: every expression has data, with All and with one value per variable", not empty,
                   "\n    ".join([""] + empty))

    # Rules, as Prometheus loaded them.
    rec_empty, alert_empty, broken, records, alerts, fired, quiet = [], [], [], 0, 0, 0, set()
    for group in prom.rules():
        for rule in group["rules"]:
            expr = rule["query"]
            ok, error = has_data(prom, expr, start, end)
            if ok is None:
                broken.append(f"{rule['name']}: {error}")
                continue
            if rule["type"] == "recording":
                records += 1
                if not ok:
                    rec_empty.append(f"{group['name']}/{rule['name']} {json.dumps(rule.get('labels', {}))}")
                continue
            alerts += 1
            if ok:
                fired += 1
                continue
            # An alert that did not fire in this run: each series its condition reads must
            # exist, or the alert could never fire.
            window = rule.get("labels", {}).get("window")
            quiet.add(rule["name"] + (f"[{window}]" if window else ""))
            missing = []
            for selector in selectors(expr):
                present, error = has_data(prom, selector, start, end)
                if not present:
                    missing.append(selector + (f" ({error})" if error else ""))
            if missing:
                alert_empty.append(f"{rule['name']} {json.dumps(rule.get('labels', {}))}: no data for " + ", ".join(missing))
            if rule["health"] != "ok":
                broken.append(f"{rule['name']}: health {rule['health']} {rule.get('lastError', '')}")
    log("alerts whose condition was never true in this run (their series were checked instead): "
        + ", ".join(sorted(quiet)))
    results.record(f"rules: {records} recording and {alerts} alerting expressions parse and evaluate", not broken,
                   "\n    ".join([""] + broken))
    results.record("rules: every recording rule has data", not rec_empty, "\n    ".join([""] + rec_empty))
    results.record(f"rules: every alert condition reads series that exist ({fired} conditions were true during the run)",
                   not alert_empty, "\n    ".join([""] + alert_empty))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--webhook-log", required=True)
    parser.add_argument("--admin-url", required=True)
    parser.add_argument("--admin-secret", default=os.environ.get("E2E_ADMIN_SECRET", ""),
                        help="X-Demo-Admin-Secret (default: $E2E_ADMIN_SECRET)")
    parser.add_argument("--pg-script", required=True)
    parser.add_argument("--pg-dir", required=True)
    parser.add_argument("--pg-port", required=True)
    parser.add_argument("--psql", required=True, help="psql, run as the cluster's superuser ($MITRA_TEST_PG_USER)")
    parser.add_argument("--exporter-pidfile", required=True)
    parser.add_argument("--exporter-cmd", required=True, help="the exporter's command line, a JSON list")
    parser.add_argument("--exporter-log", required=True)
    parser.add_argument("--exporter-url", required=True)
    parser.add_argument("--dashboards", required=True)
    parser.add_argument("--started", type=float, required=True, help="epoch seconds when the exporter started")
    parser.add_argument("--quiet-seconds", type=int, default=15)
    parser.add_argument("--only", help="run only the scenarios whose name contains this text")
    args = parser.parse_args()

    prom = Prometheus(args.prometheus)
    webhook = Webhook(args.webhook_log)
    results = Results()
    try:
        print("-- readiness", flush=True)
        if phase_ready(prom, webhook, results, timeout=60):
            phase_quiet(prom, webhook, results, args.quiet_seconds)
            for scenario in scenarios(args):
                if args.only and args.only not in scenario.name:
                    continue
                try:
                    run_scenario(scenario, prom, webhook, results)
                except (Failure, subprocess.SubprocessError, OSError) as error:
                    results.record(f"{scenario.name}", False, str(error))
                    try:
                        scenario.restore()
                    except Exception as restore_error:  # keep going: later phases report their own state
                        log(f"restore failed: {restore_error}")
        print("-- dashboard and rule expressions", flush=True)
        phase_expressions(prom, results, args.dashboards, args.started)
    except (Failure, OSError, urllib.error.URLError) as error:
        results.record("end-to-end run", False, str(error))

    total, failed = len(results.items), len(results.failed)
    print()
    print(f"e2e: {total - failed} passed, {failed} failed")
    for name, _, detail in results.failed:
        print(f"  FAILED {name}" + (f": {detail.splitlines()[0] if detail.strip() else ''}" if detail else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Panel descriptions for tools/gen_dashboards.py, by panel title (or, for a title that shows a
configured target, by its `key`): what the panel shows, the
KPI target when it has one, and what to do when it is red. Grafana shows them in the panel's
(i) tooltip. A title used on two dashboards means the same thing on both.

Kept apart from the queries so a description can be read and reviewed in one place; the
generator refuses a panel without a description here or in its own `description=`, and one
with both.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mixin_template import Derived  # noqa: E402

RUNBOOK = "alerts/runbook.md"

# The targets the descriptions quote: placeholders for the mixin's `_config`, like the panels'.
DERIVED = Derived()


def _percent(path, complement=False):
    return DERIVED.text(path, complement=complement, times=100) + " %"


def _ms(path):
    return DERIVED.text(path, times=1000) + " ms"


def _s(path):
    return DERIVED.text(path) + " s"


API, LOGIN = _percent("slos.apiAvailability"), _percent("slos.loginSuccess")
LOGIN_LATENCY, LOGIN_SLOW = _percent("slos.loginLatency"), _percent("slos.loginLatency", complement=True)
LOGIN_MS, DB_MS = _ms("kpis.loginLatencySeconds"), _ms("kpis.dbMeanQuerySeconds")
DASHBOARD_S, SEARCH_S = _s("kpis.dashboardLatencySeconds"), _s("kpis.policySearchLatencySeconds")
ANALYTICS_S, API_S = _s("kpis.analyticsLatencySeconds"), _s("kpis.apiLatencySeconds")

DESCRIPTIONS = {
    # --- Agent Mitra overview -----------------------------------------------------------------
    "Firing cause":
        "The alert that names what broke, one per incident, for the chosen services (services: in the "
        "exporter's config) and the exporter itself: MitraServiceDown, MitraLoginsFailing, MitraLoginRoleFailing, "
        "MitraPostgresDown, MitraAPIServerErrors, MitraExporterDown. Alertmanager holds its symptoms back. "
        "A row here: open its section in " + RUNBOOK + " (what it means, what it holds back, the first three "
        "commands).",
    "API availability (1h)":
        "Share of HTTP checks that passed and backend requests that did not answer 5xx, over the last hour. "
        "Target " + API + ". Red: open the API health dashboard to see which check or route fails, then the "
        "check's /trace link on the exporter's status page for the failing request.",
    "API error budget left (30d)":
        "Share of the 30-day error budget of the " + API + " API availability objective not yet spent (approximated "
        "from hourly ratios). Red: the budget is gone; prefer reliability work to risky releases until it recovers.",
    "Login success (1h)":
        "Share of logins that succeeded over the last hour: the backend's audit trail (every outcome but "
        "success counts as a failure, wrong passwords included) and the exporter's login scenarios. Target " + LOGIN + ". "
        "Red: see Login success by role and the Logins dashboard for the role and outcome.",
    "Login error budget left (30d)":
        "Share of the 30-day error budget of the " + LOGIN + " login success objective not yet spent. Red: the budget is "
        "gone; look for a role or outcome that keeps failing on the Logins dashboard.",
    "Login p95":
        "95th percentile of login duration, one value per histogram (their buckets differ): the audit trail's "
        "login times and the login step of the role scenarios. Target " + LOGIN_MS + ". Red: check the database (PostgreSQL dashboard, mean query time) and the "
        "login step phases on the Logins dashboard.",
    "Dashboard p95":
        "95th percentile of the duration of checks labelled kpi=dashboard (/analytics/dashboard). Target " + DASHBOARD_S + ". "
        "Red: look at the slowest statements on the PostgreSQL dashboard and the check's phase timings.",
    "Policy search p95":
        "95th percentile of the duration of checks labelled kpi=policy_search (/policies/?q=...). Target " + SEARCH_S + ". "
        "Red: look for sequential scans on lic_schema.insurance_policies and the slowest statements.",
    "Analytics p95":
        "95th percentile of the duration of checks labelled kpi=analytics (a year of analytics). Target " + ANALYTICS_S + ". "
        "Red: the heavy analytics query is slow; see the slowest statements and the cache hit ratio.",
    "API p95":
        "95th percentile of API request duration, one value per histogram (their buckets differ): the "
        "backend's request log and every HTTP check. Target " + API_S + ". "
        "Red: find the slow route on the API health dashboard (duration percentiles), then the database panels.",
    "DB mean query time":
        "Highest mean execution time of the statements PostgreSQL ran during the exporter's last interval "
        "(pg_stat_statements), over the selected instances. Target " + DB_MS + ". Red: open Slowest statements on the "
        "PostgreSQL dashboard; look for blocked processes and long transactions.",
    "Burn rate per SLO (1h)":
        "How fast each SLO spends its error budget over the last hour: 1 spends exactly the 30-day budget in "
        "30 days; 14.4 pages. Red: the SLO is burning fast; its alert and runbook section say where to look.",
    "Check success ratio":
        "Share of runs of each HTTP check that passed. Target " + API + ". Red: open the check's /trace on the "
        "status page to see the failing request, status and assertion.",
    "Check latency p95":
        "95th percentile of each check's duration. API target " + API_S + " (KPI checks: dashboard " + DASHBOARD_S + ", policy search " + SEARCH_S + ", "
        "analytics " + ANALYTICS_S + "). Red: see the check's phase timings on the API health dashboard.",
    "Backend 5xx and 4xx per route":
        "Error responses per route from the backend's request log (lic_schema.api_request_log). 5xx on a route "
        "above 5 % of its requests alerts; 4xx alerts when above 10 % and three times its daily level. "
        "Red: check the backend logs for that route; a 4xx surge often follows a client release.",
    "Login success by role":
        "Share of successful logins per role over 5 minutes (audit trail and the role's login scenario). "
        "Target " + LOGIN + ". Red for one role: that role's accounts or permissions are broken "
        "(MitraLoginRoleFailing, see " + RUNBOOK + ").",
    "Firing alerts":
        "The mitra-exporter alerts firing now. Each has a section in " + RUNBOOK + " with what to check first.",

    # --- API health ---------------------------------------------------------------------------
    "Check status":
        "Result of each HTTP check's last run: UP or DOWN. Red: open the check's /trace on the exporter's "
        "status page for the request, response and failed assertion.",
    "Success ratio":
        "Share of runs of each check that passed. Target " + API + ". Red: see Failures by reason for why "
        "(timeout, connect, status, json ...).",
    "Failures by reason":
        "Failed check runs by reason: timeout, connect, dns, tls, status, body, json, latency, extract. "
        "Connect or dns: the API is unreachable; status or json: it answers wrongly; timeout: it is too slow.",
    "HTTP status code":
        "Status of each check's last response (0: no response). Above 400 is yellow, 500 and above red: "
        "the backend fails; check its logs for the route.",
    "Phase timings (last run)":
        "Time of each check's last run by phase: resolve, connect, tls, processing (time to first byte), "
        "transfer. A high processing phase is the backend or the database; connect or tls is the network.",
    "Duration percentiles":
        "p50 and p95 of each check's duration. Target p95 < " + API_S + ". Red: see the phase timings to tell backend "
        "slowness from network trouble.",
    "Certificate expires in":
        "Time until the earliest expiry in each check's served certificate chain. Yellow below 14 days "
        "(alert), red below 7: renew the certificate.",
    "TLS and response details":
        "Per check: TLS version, content length and redirects of the last response. For context; no target.",
    "Scenario status":
        "Whether each scenario's last run passed every step. Red: the Step success panel shows which step broke; "
        "the scenario's /trace on the status page shows the request and response.",
    "Step success":
        "Result of each scenario step's last run (1 passed, 0 failed). A step at 0 is where the flow breaks "
        "(login, /users/me, policies, RBAC).",
    "Step duration p95":
        "95th percentile of each scenario step's duration. Target " + API_S + " (login step: " + LOGIN_MS + "). Red: compare with "
        "the same endpoint's check to tell a slow endpoint from a slow role.",
    "Scenario duration p95":
        "95th percentile of each scenario's total duration (every step). No target of its own; a rise points "
        "at the step whose p95 rose.",

    # --- PostgreSQL ---------------------------------------------------------------------------
    "Up":
        "Whether the exporter can connect to and query each PostgreSQL instance. DOWN (red): the database is "
        "unreachable or refuses the exporter's role; check the server and the status page's error.",
    "Connections used":
        "Client connections as a share of max_connections. Yellow at 70 %, red at 80 %: look for idle-in-"
        "transaction sessions in Connections by state and for a connection leak in the backend.",
    "Mean query time":
        "Mean execution time of the statements run during the exporter's last interval. Target " + DB_MS + ". "
        "Red: see Slowest statements and Blocked processes.",
    "Database size":
        "Total size of the selected databases. No target; a sudden jump is worth a look at the tables' sizes.",
    "Replication lag":
        "Seconds a replica is behind its primary. Yellow above 10 s, red above 30 s (alert): check the "
        "replica's disk and network, and long queries on the replica.",
    "Blocked processes":
        "Sessions waiting for a lock. Yellow from 1, red from 5: find the blocking session (long transaction, "
        "DDL) and end it if it is stuck.",
    "Connections by state":
        "Client connections by state (active, idle, idle in transaction ...) against max_connections. Many "
        "idle in transaction sessions hold locks and connections: fix the client that leaves them open.",
    "Transactions":
        "Commits and rollbacks per second per database. No target; rollbacks rising with failing checks point "
        "at backend errors.",
    "Cache hit ratio":
        "Share of block reads served from shared buffers. Yellow below 99 %, red below 95 %: the working set no "
        "longer fits; look for new sequential scans or raise shared_buffers.",
    "Locks by mode and deadlocks":
        "Locks held by mode and deadlocks per interval. Deadlocks alert: find the two transactions in the server "
        "log and make them take locks in the same order.",
    "Mean query time vs target":
        "Mean execution time of the statements run during each interval, over time. Target " + DB_MS + " (the DB query "
        "time SLO). Red: Slowest statements lists the query ids to look at.",
    "Longest open transaction":
        "Age of the oldest open transaction per database. Red above 5 minutes: it holds back vacuum and may hold "
        "locks; find it in pg_stat_activity and end it if it is stuck.",
    "Top queries by time in the interval":
        "Execution time and calls per query id over the dashboard's time range. The top rows are where the "
        "database spends its time: start tuning there.",
    "Slowest statements (mean over the last interval)":
        "Per query id: mean execution time during the exporter's last sampling interval; above " + DB_MS + " is red. "
        "Red: EXPLAIN the statement (query text with statements.query_text) and check its indexes.",
    "Replica lag (on replicas)":
        "Seconds since the last replayed transaction while replay is behind, on replicas. Red above 30 s "
        "(alert): check the replica's disk, network and conflicting queries.",
    "Standby replay lag (on the primary)":
        "Replay lag of each standby as seen from the primary. Red above 30 s: the standby falls behind; check it "
        "and the network between the two.",
    "Dead tuples and vacuum (lic_schema)":
        "Per lic_schema table: share of dead tuples (bloat), time since the last autovacuum, dead tuples. A high "
        "dead share with an old autovacuum: check long transactions and the table's autovacuum settings.",
    "Sequential vs index scans (lic_schema)":
        "Sequential and index scans per second per lic_schema table. Sequential scans rising on a large table "
        "usually mean a missing index for a new query.",
    "Autovacuum runs (lic_schema)":
        "Autovacuum runs per lic_schema table. None for a long time on a busy table, with dead tuples rising: "
        "autovacuum is blocked (long transaction) or throttled.",
    "Checkpoints":
        "Timed and requested checkpoints per second. Requested checkpoints dominating mean max_wal_size is too "
        "small for the write load.",
    "Checkpoint write and sync time":
        "Share of wall-clock time spent writing and syncing checkpoint files. High sync time points at slow "
        "storage.",
    "Buffers written":
        "Buffers written per second by the checkpointer, the background writer and backends. Backends writing "
        "most buffers themselves means the background writer cannot keep up.",
    "WAL written":
        "WAL bytes written per second. No target; a jump means a write-heavy job or a bulk change.",
    "WAL writes and fsyncs":
        "WAL writes and fsyncs per second (pg_stat_wal before 18, pg_stat_io from 18). Many fsyncs per write "
        "on slow storage limit commit speed.",
    "Bytes read by backend type":
        "Bytes read per second by backend type, from pg_stat_io (the io collector, PostgreSQL 16 and later). "
        "Client backends reading much more than usual: new sequential scans or a cold cache.",
    "Bytes written and extended by backend type":
        "Bytes written and relation extensions per second by backend type (pg_stat_io, PostgreSQL 16+). "
        "Client backends writing a lot: the background writer and checkpointer fall behind.",
    "Time in I/O by backend type":
        "Share of wall-clock time in reads, writes and fsyncs by backend type (pg_stat_io; needs "
        "track_io_timing). High values mean the storage is the bottleneck.",

    # --- Logins -------------------------------------------------------------------------------
    "Login latency within target (1h)":
        "Share of logins faster than " + LOGIN_MS + " over the last hour (audit trail and login scenarios). Objective "
        "" + LOGIN_LATENCY + ". Red: see Login duration percentiles and the login step phases; usually the database.",
    "Success by role (5m)":
        "Share of successful logins per role over 5 minutes. Target " + LOGIN + ". Red for one role: that role's users "
        "or permissions are broken; see Failed logins by outcome.",
    "Attempts by role and outcome":
        "Login attempts per second by role and outcome, from the backend's auth_events audit trail. No target; "
        "the outcome mix explains a drop in success.",
    "Failed logins by outcome":
        "Failed login attempts per second by outcome. Wrong passwords are users; locked accounts or errors "
        "are the service: an error surge needs the backend's logs.",
    "Success ratio by role":
        "Share of successful logins per role over 5 minutes, over time. Target " + LOGIN + ". Red: compare with the "
        "role's login scenario to tell real users' failures from a broken role.",
    "Login scenarios by role":
        "Result of the last run of each role's login scenario (1 passed, 0 failed). 0: the scenario's /trace on "
        "the status page shows the failing step.",
    "Login duration percentiles (audit trail)":
        "p50, p95 and p99 of login duration from the audit trail. Target p95 < " + LOGIN_MS + ". Red: check the database "
        "(mean query time, blocked processes).",
    "Login step p95 by role (scenarios)":
        "95th percentile of the login step of each role's scenario. Target " + LOGIN_MS + ". Red for one role: its "
        "permissions or data are heavier; red for all: the backend or database.",
    "Login step phases by role (last run)":
        "Phases of each role's last login request: resolve, connect, tls, processing, transfer. Processing is "
        "the backend's own time.",
    "Logins slower than target":
        "Share of logins slower than " + LOGIN_MS + " over 5 minutes and 1 hour. Target at most " + LOGIN_SLOW + ". Red: the login "
        "latency SLO burns; see the duration percentiles.",

    # --- Exporter self ------------------------------------------------------------------------
    "Targets up":
        "How many exporter instances Prometheus scrapes successfully. Fewer than the replicas you run: an "
        "exporter is down or unreachable (MitraExporterDown).",
    "Config reload":
        "Whether the last configuration reload succeeded. FAILED (red): the previous configuration still runs; the "
        "exporter's log and the reload answer name the file, line and key.",
    "Last successful reload":
        "When the configuration was last loaded successfully. For context after a change.",
    "Stale collectors":
        "Collectors whose last success is more than three intervals old. Red from 1: see the Collectors table "
        "and the status page's error for the collector.",
    "Uptime":
        "Time since the exporter process started. A short uptime that keeps resetting means it restarts.",
    "Build":
        "Version, revision and Swift version of the running exporter.",
    "Time since last success / interval":
        "Intervals since each collector last succeeded. Above 3 it is stale (red): its target is failing or "
        "unreachable; the status page shows the last error.",
    "Collector duration":
        "How long each collector's last run took. Close to its timeout: the target is slow, raise the timeout "
        "or look at the target.",
    "Collector failures":
        "Failed collector runs per interval. Persistent failures: the collector's last error is on the status "
        "page and in the log.",
    "Collectors":
        "Per collector: last result, duration and seconds since its last success.",
    "Samples per scrape":
        "Series in each scrape. A sudden rise is new label values (routes, query ids); watch Series dropped.",
    "Series dropped":
        "Series dropped because a collector exceeded its budget (series_budget, max_series). Red from 1: raise "
        "the budget, or lower statements.top or narrow the query's labels.",
    "Scrape duration":
        "How long Prometheus took to scrape the exporter. Close to the scrape timeout: check the exporter's CPU "
        "and the number of samples.",
    "Scrapes served":
        "Scrapes per second served. More than the Prometheus servers you run: someone else scrapes too.",
    "Resident memory":
        "Resident memory of the exporter. Steady growth without more series: report it with the exporter's "
        "version.",
    "CPU":
        "CPU used by the exporter, in cores. High: many checks or collectors at short intervals; lengthen "
        "intervals or shard.",
    "Open file descriptors":
        "Open file descriptors. Close to the limit, probes fail to connect: raise LimitNOFILE.",
    "Log lines dropped":
        "Log lines the log destination could not take (full disk, stuck log collector). Red from 1: fix the "
        "log destination; the exporter itself keeps running.",
}

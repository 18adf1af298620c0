// What a user of the mixin sets. Override with `(import 'mixin.libsonnet') + { _config+:: {...} }`.
{
  _config+:: {
    // Every vector selector of every rule and panel starts with this, so the rules see only the
    // exporter's series, not postgres_exporter's `pg_up` or blackbox_exporter's `probe_*`.
    selector: 'job="mitra-exporter"',

    // Where the on-call engineer opens alerts/runbook.md; each alert links to
    // `<runbookBase>#<alert name in lower case>`. Point it at your own copy if you keep one.
    runbookBase: 'https://github.com/mitra-exporter/mitra-exporter/blob/main/alerts/runbook.md',

    // The `severity` label values. `critical` wakes someone up, `warning` goes to a queue,
    // `info` to a low-noise channel. `inhibit` is on the two alerts that only hold other alerts
    // back in Alertmanager (MitraServiceDependencyDown, MitraServiceIncident): route it to a
    // receiver with no integrations.
    severities: {
      critical: 'critical',
      warning: 'warning',
      info: 'info',
      inhibit: 'inhibit',
    },

    // SLO objectives: the share of good events (or good time) over 30 days. The burn-rate
    // alert thresholds are derived from them.
    slos: {
      apiAvailability: 0.99,  // API checks and requests that succeed
      loginSuccess: 0.95,  // logins that succeed, overall and per role
      loginLatency: 0.95,  // logins within kpis.loginLatencySeconds (p95)
      dashboardLatency: 0.95,
      policySearchLatency: 0.95,
      analyticsLatency: 0.95,
      apiLatency: 0.95,  // API p95
      dbQueryTime: 0.99,  // time with the mean query time within kpis.dbMeanQuerySeconds
    },

    // KPI thresholds in seconds. Histogram SLOs count the bucket `le` equal to the threshold,
    // so a threshold must be a bucket bound of the histograms it reads.
    kpis: {
      loginLatencySeconds: 0.5,
      dashboardLatencySeconds: 2,
      policySearchLatencySeconds: 1,
      analyticsLatencySeconds: 3,
      apiLatencySeconds: 2,
      dbMeanQuerySeconds: 0.5,
    },
  },
}

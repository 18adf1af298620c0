// The mitra-exporter monitoring mixin: alerts, recording rules and Grafana dashboards.
// Set the selector, runbook URL, severity names and targets in `_config` (config.libsonnet).
(import 'config.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'dashboards/dashboards.libsonnet')

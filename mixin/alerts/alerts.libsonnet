local generated = import '../lib/generated.libsonnet';
local template = import '../lib/template.libsonnet';

{
  _renderedRules:: template.render($._config, generated.rules),

  // The threshold alerts (services, logins, endpoints, PostgreSQL, the exporter), with the
  // recording rules only they use.
  prometheusAlerts+:: $._renderedRules.prometheusAlerts,
}

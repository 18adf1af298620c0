local generated = import '../lib/generated.libsonnet';
local template = import '../lib/template.libsonnet';

{
  // The rules template filled once from `_config`, for prometheusRules and prometheusAlerts.
  _renderedRules:: template.render($._config, generated.rules),

  // The SLO groups: the ratio recording rules of each SLO and, in the same group so that
  // they read the ratios of the same evaluation, its multi-window burn-rate alerts.
  prometheusRules+:: $._renderedRules.prometheusRules,
}

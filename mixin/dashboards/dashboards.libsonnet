local generated = import '../lib/generated.libsonnet';
local template = import '../lib/template.libsonnet';

{
  // File name -> Grafana dashboard JSON.
  grafanaDashboards+:: template.render($._config, generated.dashboards),
}

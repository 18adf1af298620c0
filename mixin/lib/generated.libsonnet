// The templates the generators write (tools/gen_alerts.py, tools/gen_dashboards.py).
{
  rules: import '../generated/rules.json',
  dashboards: import '../generated/dashboards.json',
}

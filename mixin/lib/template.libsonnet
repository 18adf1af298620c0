// Fills the templates of mixin/generated/ (written by tools/gen_alerts.py and
// tools/gen_dashboards.py, see tools/mixin_template.py) from a mixin's `_config`.
{
  // The shortest decimal of x to 10 significant digits: 0.144, not 0.14400000000000002.
  number(x):: std.format('%.10g', [x]),

  // A histogram bound as Prometheus 3 stores it in `le`: 1 -> "1.0", 0.5 -> "0.5".
  // (Bounds of a million and above would need Go's exponent form; KPI thresholds are seconds.)
  le(x)::
    local text = self.number(x);
    if std.length(std.findSubstr('.', text)) > 0 || std.length(std.findSubstr('e', text)) > 0
    then text else text + '.0',

  // The values a template may name: the selector, the runbook base, the severity names, and
  // the numbers derived from `_config.slos` and `_config.kpis` that the template lists under `derived`.
  values(config, derived)::
    {
      selector: config.selector,
      runbookBase: config.runbookBase,
    } + {
      ['severity_' + name]: config.severities[name]
      for name in std.objectFields(config.severities)
    } + {
      [key]: (
        local spec = derived[key];
        local path = std.split(spec.of, '.');
        local kpi = if std.objectHas(config, path[0]) && std.objectHas(config[path[0]], path[1])
                    then config[path[0]][path[1]]
                    else error 'mixin: _config has no ' + spec.of;
        local x = (if spec.complement then 1 - kpi else kpi) * spec.times;
        // Rounded like the text forms: 1 - 0.95 is 0.05 on a panel, not 0.050000000000000044.
        if spec.format == 'value' then std.parseJson($.number(x))
        else if spec.format == 'le' then $.le(x)
        else $.number(x)
      )
      for key in std.objectFields(derived)
    },

  fill(data, values)::
    // Most strings name no value; formatting them would only cost time.
    if std.isString(data) then (if std.member(data, '%') then data % values else data)
    else if std.isArray(data) then [$.fill(item, values) for item in data]
    else if std.isObject(data) then
      if std.objectFields(data) == ['mixinValue'] then values[data.mixinValue]
      else { [key]: $.fill(data[key], values) for key in std.objectFields(data) }
    else data,

  render(config, generated):: $.fill(generated.template, $.values(config, generated.derived)),
}

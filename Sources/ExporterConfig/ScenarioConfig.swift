/// Where a scenario variable comes from.
public enum ExtractionSource: Sendable, Hashable {
    case json(JSONPath)
    case header(String)
    /// The first capture group (or the whole match) of a regex over the body.
    case regex(ConfigRegex)
}

public struct ExtractionConfig: Sendable, Hashable {
    public var variable: String
    public var source: ExtractionSource
}

public struct ScenarioStepConfig: Sendable, Hashable {
    public var name: String
    public var request: HTTPRequestConfig
    public var expect: ExpectationsConfig
    public var extract: [ExtractionConfig] = []
}

public struct ScenarioConfig: Sendable, Hashable {
    public var name: String
    public var interval: Duration
    /// Bounds the whole scenario; each step gets what is left of it.
    public var timeout: Duration
    public var labels: [ConfigLabel]
    public var client: HTTPClientConfig
    /// Fixed values available to every step as `${name}`.
    public var variables: [ConfigLabel]
    public var steps: [ScenarioStepConfig]

    static func decode(_ value: ConfigValue, defaults: SamplingDefaults) -> ScenarioConfig? {
        guard let object = value.object() else { return nil }
        let name = object.required("name")?.exportedNonEmptyString()
        let schedule = Schedule.decode(object, defaults: defaults)
        let labels = LabelsDecoder.decode(object.value("labels"), reserved: CheckConfig.reservedLabels)
        let client = HTTPClientConfig.decode(object)
        var variables: [ConfigLabel] = []
        var defined: Set<String> = []
        if let pairs = object.value("variables")?.object() {
            for (key, item) in ExtractionConfig.variables(in: pairs) {
                if let text = item.string() {
                    variables.append(ConfigLabel(name: key, value: text))
                    defined.insert(key)
                }
            }
            pairs.finish()
        }
        var steps: [ScenarioStepConfig] = []
        if let stepsValue = object.required("steps"), let items = stepsValue.list() {
            if items.isEmpty { stepsValue.error("a scenario needs at least one step") }
            var stepNames: Set<String> = []
            for item in items {
                guard let stepObject = item.object() else { continue }
                let stepName = stepObject.required("name")?.exportedNonEmptyString()
                if let stepName {
                    if stepNames.contains(stepName) {
                        stepObject.value("name")?.error("duplicate step name \"\(stepName)\"")
                    }
                    stepNames.insert(stepName)
                }
                let request = HTTPRequestConfig.decode(stepObject)
                let expect = ExpectationsConfig.decode(stepObject.value("expect"))
                if let request {
                    for variable in request.variableReferences where !defined.contains(variable) {
                        stepObject.error("${\(variable)} is not defined before this step (set it in variables, or extract it in an earlier step)")
                    }
                }
                var extract: [ExtractionConfig] = []
                if let extractObject = stepObject.value("extract")?.object() {
                    for (key, value) in ExtractionConfig.variables(in: extractObject) {
                        if let source = ExtractionConfig.decodeSource(value) {
                            extract.append(ExtractionConfig(variable: key, source: source))
                            defined.insert(key)
                        }
                    }
                    extractObject.finish()
                }
                for key in stepObject.keys where HTTPClientConfig.keys.contains(key) {
                    stepObject.value(key)?.error("set \(key) on the scenario; it applies to every step")
                }
                stepObject.finish()
                if let stepName, let request {
                    steps.append(ScenarioStepConfig(name: stepName, request: request, expect: expect, extract: extract))
                }
            }
        }
        object.finish()
        guard let name else { return nil }
        return ScenarioConfig(name: name, interval: schedule.interval, timeout: schedule.timeout, labels: labels,
                              client: client, variables: variables, steps: steps)
    }
}

extension ExtractionConfig {
    static func isValidName(_ name: String) -> Bool {
        LabelsDecoder.isIdentifier(name)
    }

    /// The entries of a mapping whose keys name variables (`variables:`, `extract:`); a key
    /// that is not a valid name is reported and left out.
    static func variables(in object: ConfigObject) -> [(name: String, value: ConfigValue)] {
        object.keys.compactMap { key in
            guard let value = object.value(key) else { return nil }
            guard isValidName(key) else {
                value.error("\"\(key)\" is not a valid variable name (letters, digits, _; not starting with a digit)")
                return nil
            }
            return (key, value)
        }
    }

    static func decodeSource(_ value: ConfigValue) -> ExtractionSource? {
        if case .scalar = value.node {
            guard let text = value.string() else { return nil }
            guard let path = JSONPath.parse(text) else {
                value.error("\"\(text)\" is not a JSON path (or write {header: Name} or {regex: pattern})")
                return nil
            }
            return .json(path)
        }
        guard let object = value.object() else { return nil }
        let present = ["json", "header", "regex"].filter { object.contains($0) }
        if present.count != 1 { object.error("needs exactly one of json, header, regex") }
        var source: ExtractionSource?
        if let item = object.value("json"), let text = item.string() {
            if let path = JSONPath.parse(text) { source = .json(path) } else { item.error("\"\(text)\" is not a JSON path") }
        }
        if let header = object.value("header")?.nonEmptyString() { source = .header(header) }
        if let pattern = object.value("regex")?.regex() { source = .regex(pattern) }
        object.finish()
        return present.count == 1 ? source : nil
    }
}

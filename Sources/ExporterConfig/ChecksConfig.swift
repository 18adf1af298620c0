/// `checks:` and `scenarios:` — HTTP checks and multi-step scenarios.

public struct HTTPRequestConfig: Sendable, Hashable {
    public var url: String
    public var method: String = "GET"
    public var headers: [ConfigLabel] = []
    public var body: String?

    public init(url: String) {
        self.url = url
    }
}

public struct ExpectationsConfig: Sendable, Hashable {
    /// Accepted status codes; `nil` means 2xx.
    public var statusCodes: [StatusMatcher]?
    public init() {}
}

public enum StatusMatcher: Sendable, Hashable {
    case code(Int)
    case classOf(Int)   // 2 for "2xx"

    public func matches(_ status: Int) -> Bool {
        switch self {
        case .code(let code): status == code
        case .classOf(let hundreds): status / 100 == hundreds
        }
    }

    static func parse(_ value: ConfigValue) -> StatusMatcher? {
        guard let text = value.string() else { return nil }
        if text.count == 3, text.hasSuffix("xx"), let digit = Int(text.prefix(1)), (1...5).contains(digit) {
            return .classOf(digit)
        }
        if let code = Int(text), (100...599).contains(code) { return .code(code) }
        value.error("\"\(text)\" is not a status code (100-599) or class (1xx-5xx)")
        return nil
    }
}

public struct CheckConfig: Sendable, Hashable {
    public var name: String
    public var request: HTTPRequestConfig
    public var interval: Duration
    public var timeout: Duration
    public var labels: [ConfigLabel]
    public var expect: ExpectationsConfig

    static let reservedLabels: Set<String> = ["check", "scenario", "step", "phase", "result", "reason", "le", "collector"]

    static func decode(_ value: ConfigValue, defaults: SamplingDefaults) -> CheckConfig? {
        guard let object = value.object() else { return nil }
        let name = object.required("name")?.nonEmptyString()
        let url = object.required("url")?.httpURL()
        let schedule = Schedule.decode(object, defaults: defaults)
        var request = HTTPRequestConfig(url: url ?? "")
        if let method = object.value("method")?.nonEmptyString() { request.method = method.uppercased() }
        request.headers = object.value("headers")?.stringPairs()?.map { ConfigLabel(name: $0.key, value: $0.value) } ?? []
        request.body = object.value("body")?.string()
        let labels = LabelsDecoder.decode(object.value("labels"), reserved: reservedLabels)
        var expect = ExpectationsConfig()
        if let expectObject = object.value("expect")?.object() {
            if let statuses = expectObject.value("status")?.list() {
                expect.statusCodes = statuses.compactMap { StatusMatcher.parse($0) }
            }
            expectObject.finish()
        }
        object.finish()
        guard let name, url != nil else { return nil }
        return CheckConfig(name: name, request: request, interval: schedule.interval, timeout: schedule.timeout,
                           labels: labels, expect: expect)
    }
}

public struct ScenarioStepConfig: Sendable, Hashable {
    public var name: String
    public var request: HTTPRequestConfig
    public var expect: ExpectationsConfig
}

public struct ScenarioConfig: Sendable, Hashable {
    public var name: String
    public var interval: Duration
    public var timeout: Duration
    public var labels: [ConfigLabel]
    public var steps: [ScenarioStepConfig]

    static func decode(_ value: ConfigValue, defaults: SamplingDefaults) -> ScenarioConfig? {
        guard let object = value.object() else { return nil }
        let name = object.required("name")?.nonEmptyString()
        let schedule = Schedule.decode(object, defaults: defaults)
        let labels = LabelsDecoder.decode(object.value("labels"), reserved: CheckConfig.reservedLabels)
        var steps: [ScenarioStepConfig] = []
        if let items = object.required("steps")?.list() {
            if items.isEmpty { object.value("steps")?.error("a scenario needs at least one step") }
            for item in items {
                guard let stepObject = item.object() else { continue }
                let stepName = stepObject.required("name")?.nonEmptyString()
                let url = stepObject.required("url")?.httpURL()
                var request = HTTPRequestConfig(url: url ?? "")
                if let method = stepObject.value("method")?.nonEmptyString() { request.method = method.uppercased() }
                request.headers = stepObject.value("headers")?.stringPairs()?.map { ConfigLabel(name: $0.key, value: $0.value) } ?? []
                request.body = stepObject.value("body")?.string()
                var expect = ExpectationsConfig()
                if let expectObject = stepObject.value("expect")?.object() {
                    if let statuses = expectObject.value("status")?.list() {
                        expect.statusCodes = statuses.compactMap { StatusMatcher.parse($0) }
                    }
                    expectObject.finish()
                }
                stepObject.finish()
                if let stepName, url != nil {
                    steps.append(ScenarioStepConfig(name: stepName, request: request, expect: expect))
                }
            }
        }
        object.finish()
        guard let name else { return nil }
        return ScenarioConfig(name: name, interval: schedule.interval, timeout: schedule.timeout, labels: labels, steps: steps)
    }
}

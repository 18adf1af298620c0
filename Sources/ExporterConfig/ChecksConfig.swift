/// `checks:` and `scenarios:` — HTTP checks and multi-step scenarios.
///
/// ```yaml
/// checks:
///   - name: policies
///     url: https://api.example/policies/
///     method: GET                      # default GET
///     headers: {Authorization: "Bearer ${env:TOKEN}"}
///     body: "raw text"                 # or json: {any: yaml}  (sets Content-Type)
///     interval: 15s
///     timeout: 5s
///     labels: {endpoint: /policies/}
///     expect:
///       status: [200, 2xx]             # default 2xx
///       body_matches: ["policy_id"]    # regexes that must match
///       body_not_matches: ["error"]    # regexes that must not match
///       json: {"$[0].status": active, "$.count": {matches: "^[0-9]+$"}, "$.x": {exists: false}}
///       headers: {Content-Type: "^application/json"}   # value regexes; the header must be present
///       max_duration: 1s
///     tls: {ca_file: ..., cert_file: ..., key_file: ..., insecure_skip_verify: false, server_name: ...}
///                                      # server_name is sent as SNI and Host and verified;
///                                      # the connection still goes to the URL's host:port
///     follow_redirects: true
///     max_redirects: 10
///     ip_version: any                  # any, ipv4, ipv6
///     proxy: http://proxy:3128
///     max_body_size: 1MiB              # a larger body fails the check (reason body)
/// scenarios:
///   - name: login-junior-agent
///     variables: {base: "http://127.0.0.1:8000"}
///     (the client options above apply to every step)
///     steps:
///       - name: login
///         method: POST
///         url: ${base}/auth/login
///         json: {phone_number: "+919876540101", password: "${env:PASSWORD}"}
///         extract: {token: "$.access_token", session: {header: X-Session}, id: {regex: "id=(\\d+)"}}
///       - name: me
///         url: ${base}/users/me
///         headers: {Authorization: "Bearer ${token}"}
///         expect: {json: {"$.role": role-junior-agent}}
/// ```
public struct CheckConfig: Sendable, Hashable {
    public var name: String
    public var request: HTTPRequestConfig
    public var client: HTTPClientConfig
    public var interval: Duration
    public var timeout: Duration
    public var labels: [ConfigLabel]
    public var expect: ExpectationsConfig

    static let reservedLabels: Set<String> = ["check", "scenario", "step", "phase", "result", "reason", "le", "collector", "version"]

    static func decode(_ value: ConfigValue, defaults: SamplingDefaults) -> CheckConfig? {
        guard let object = value.object() else { return nil }
        let name = object.required("name")?.exportedNonEmptyString()
        let schedule = Schedule.decode(object, defaults: defaults)
        let request = HTTPRequestConfig.decode(object)
        let client = HTTPClientConfig.decode(object)
        let labels = LabelsDecoder.decode(object.value("labels"), reserved: reservedLabels)
        let expect = ExpectationsConfig.decode(object.value("expect"))
        if let request {
            let used = request.variableReferences
            if let first = used.first {
                object.error("checks have no variables, but ${\(first)} is used (use a scenario, or $${ for a literal)")
            }
        }
        if let maxDuration = expect.maxDuration, maxDuration > schedule.timeout {
            object.value("expect")?.object()?.value("max_duration")?.error(
                "max_duration \(DurationParser.format(maxDuration)) is longer than the timeout \(DurationParser.format(schedule.timeout))")
        }
        object.finish()
        guard let name, let request else { return nil }
        return CheckConfig(name: name, request: request, client: client, interval: schedule.interval, timeout: schedule.timeout,
                           labels: labels, expect: expect)
    }
}

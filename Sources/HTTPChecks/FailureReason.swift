import HTTPProbe

/// Why a probe failed: the fixed `reason` label values of `mitra_probe_failures_total`.
public enum FailureReason: String, Sendable, Hashable, CaseIterable {
    case timeout, connect, dns, tls, status, body, json, latency, extract

    /// Transport errors map onto the fixed set: a redirect loop is a `status` problem (the
    /// server keeps answering 3xx), an oversized body a `body` problem, and anything else
    /// that broke the exchange (resets, non-HTTP replies, unusable requests) a `connect` one.
    init(_ kind: ProbeErrorKind) {
        switch kind {
        case .dns: self = .dns
        case .timeout, .cancelled: self = .timeout
        case .tls: self = .tls
        case .tooManyRedirects, .redirectToOtherHost: self = .status
        case .bodyTooLarge: self = .body
        case .connect, .protocolError, .invalidRequest, .shutdown: self = .connect
        }
    }
}

/// A failed expectation: its reason label and a human message (never containing secrets
/// once redacted by the caller).
struct ProbeFailure: Error, Sendable, Hashable {
    var reason: FailureReason
    var message: String
    /// A body or header regex decided the failure (`probe_failed_due_to_regex`).
    var dueToRegex = false
}

/// Why a transfer did not produce a complete response.
public enum ProbeErrorKind: String, Sendable, Hashable {
    /// The host name did not resolve.
    case dns
    /// No connection could be made, or the peer closed or reset it.
    case connect
    /// The request's timeout ran out.
    case timeout
    /// Handshake or certificate verification failed.
    case tls
    /// More redirects than allowed (a redirect loop, typically).
    case tooManyRedirects
    /// The server redirected to another scheme, host or port; not followed (the request's
    /// headers may carry credentials). `ProbeResponse.redirectTarget` says where to.
    case redirectToOtherHost
    /// The body grew past the request's cap; the transfer was aborted.
    case bodyTooLarge
    /// The server sent something that is not HTTP.
    case protocolError
    /// The request itself is unusable (bad URL, unreadable CA file, ...).
    case invalidRequest
    /// The awaiting task was cancelled.
    case cancelled
    /// The engine was shut down.
    case shutdown
}

public struct ProbeError: Error, Sendable, Hashable, CustomStringConvertible {
    public var kind: ProbeErrorKind
    /// libcurl's message (or ours); may name the host, never carries request headers.
    public var message: String
    /// The libcurl result code, when libcurl produced the error.
    public var curlCode: Int?

    public init(kind: ProbeErrorKind, message: String, curlCode: Int? = nil) {
        self.kind = kind
        self.message = message
        self.curlCode = curlCode
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// Where the time went. Each phase is a slice of `total`: they never overlap and always add
/// up to it, so a dashboard can stack them. With redirects, each phase is summed over all
/// requests of the chain (as blackbox_exporter does).
public struct PhaseTimings: Sendable, Hashable {
    public var resolve: Double = 0
    public var connect: Double = 0
    public var tls: Double = 0
    /// From connected (and handshaken) to the first response byte: sending the request and
    /// the server's think time.
    public var processing: Double = 0
    /// From the first response byte to the last.
    public var transfer: Double = 0
    public var total: Double = 0

    public init() {}

    public static let phaseNames = ["resolve", "connect", "tls", "processing", "transfer"]

    public var phases: [(name: String, seconds: Double)] {
        [("resolve", resolve), ("connect", connect), ("tls", tls), ("processing", processing), ("transfer", transfer)]
    }

    /// Splits libcurl's cumulative marks (microseconds since the start) into phases. A mark
    /// that was never reached (0) means the transfer ended during that phase, which then
    /// takes the rest of the time.
    public static func fromCurlMarks(nameLookup: Int64, connect: Int64, appConnect: Int64, startTransfer: Int64,
                                     total: Int64, usedTLS: Bool) -> PhaseTimings {
        let total = max(total, 0)
        var boundaries: [Int64] = []
        var cursor: Int64 = 0
        var ended = false
        let marks: [Int64?] = [nameLookup, connect, usedTLS ? appConnect : nil, startTransfer]
        for mark in marks {
            guard let mark else {
                boundaries.append(cursor)
                continue
            }
            if ended || mark <= 0 {
                // This phase was in progress when the transfer ended.
                if !ended { cursor = total }
                ended = true
                boundaries.append(cursor)
                continue
            }
            cursor = min(max(mark, cursor), total)
            boundaries.append(cursor)
        }
        var timings = PhaseTimings()
        let seconds = { (microseconds: Int64) in Double(microseconds) / 1_000_000 }
        timings.resolve = seconds(boundaries[0])
        timings.connect = seconds(boundaries[1] - boundaries[0])
        timings.tls = seconds(boundaries[2] - boundaries[1])
        timings.processing = seconds(boundaries[3] - boundaries[2])
        timings.transfer = seconds(total - boundaries[3])
        timings.total = seconds(total)
        return timings
    }
}

public struct TLSInfo: Sendable, Hashable {
    /// As OpenSSL names it: `TLSv1.2`, `TLSv1.3`.
    public var version: String
    /// The earliest `notAfter` among the certificates the server sent, seconds since the epoch.
    public var earliestCertExpiry: Double?

    public init(version: String, earliestCertExpiry: Double?) {
        self.version = version
        self.earliestCertExpiry = earliestCertExpiry
    }
}

/// What came back. On failure `error` is set and the other fields hold whatever was
/// received before it (a status line may have arrived before a timeout, say).
public struct ProbeResponse: Sendable, Hashable {
    public var error: ProbeError?
    /// 0 when no status line arrived.
    public var status: Int = 0
    /// `1.1`, `2`, ...; empty when unknown.
    public var httpVersion: String = ""
    /// The final response's headers, in order, names as the server sent them.
    public var headers: [Header] = []
    /// At most the request's `maxBodyBytes`.
    public var body: [UInt8] = []
    /// The Content-Length header of the final response, or -1 when it had none.
    public var contentLength: Int64 = -1
    public var redirects: Int = 0
    public var effectiveURL: String = ""
    /// The absolute `Location` of a redirect to another origin that was not followed.
    public var redirectTarget: String?
    public var timings = PhaseTimings()
    public var tls: TLSInfo?

    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init() {}

    public init(error: ProbeError) {
        self.error = error
    }

    public var succeeded: Bool { error == nil }

    /// The first header with this name, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.lowercased() == lowered }?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

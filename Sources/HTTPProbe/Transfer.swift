import CCurl
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// One in-flight request: the easy handle and everything libcurl points into while the
/// transfer runs (header list, error buffer, received data). Created, driven and destroyed
/// on the engine thread only; the callbacks run there too, inside curl_multi_perform.
final class Transfer {
    let id: UInt64
    let request: ProbeRequest
    let continuation: CheckedContinuation<ProbeResponse, Never>
    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var connectTo: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let usesTLS: Bool

    // Filled by the callbacks.
    fileprivate var body: [UInt8] = []
    fileprivate var bodyTooLarge = false
    fileprivate var headers: [ProbeResponse.Header] = []
    fileprivate var headerBytes = 0
    fileprivate var tls: TLSInfo?
    /// The status of the response whose headers are arriving.
    fileprivate var currentStatus = 0
    /// Set when a redirect to another origin stopped the transfer.
    fileprivate var redirectTarget: String?

    /// Headers beyond this are dropped: a hostile server must not grow memory unbounded.
    static let maxHeaderBytes = 64 * 1024

    init?(id: UInt64, request: ProbeRequest, continuation: CheckedContinuation<ProbeResponse, Never>) {
        guard let easy = mitra_curl_easy_init() else { return nil }
        self.id = id
        self.request = request
        self.continuation = continuation
        self.easy = easy
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        usesTLS = request.url.lowercased().hasPrefix("https:")
    }

    deinit {
        mitra_curl_easy_cleanup(easy)
        mitra_curl_slist_free_all(headerList)
        mitra_curl_slist_free_all(connectTo)
        errorBuffer.deallocate()
    }

    /// Applies the request to the easy handle. Returns an error for a request libcurl rejects.
    func configure() -> ProbeError? {
        var failed: (CURLcode, String)?
        func set(_ option: CURLoption, _ value: Int) {
            let code = mitra_curl_easy_setopt_long(easy, option, value)
            if code != CURLE_OK, failed == nil { failed = (code, "option \(option.rawValue)") }
        }
        func set(_ option: CURLoption, _ value: String) {
            let code = mitra_curl_easy_setopt_string(easy, option, value)
            if code != CURLE_OK, failed == nil { failed = (code, "option \(option.rawValue)") }
        }

        var url = request.url
        if let serverName = request.tls.serverName, !serverName.isEmpty,
           var components = URLComponents(string: url), let host = components.host {
            // Present and verify `serverName` while still connecting to the URL's host:
            // rewrite the URL's host and pin the connection back with CONNECT_TO.
            let port = components.port ?? (components.scheme?.lowercased() == "https" ? 443 : 80)
            let connectHost = host.contains(":") ? "[\(host)]" : host
            components.host = serverName
            if let rewritten = components.string { url = rewritten }
            connectTo = mitra_curl_slist_append(nil, "\(serverName):\(port):\(connectHost):\(port)")
            _ = mitra_curl_easy_setopt_pointer(easy, CURLOPT_CONNECT_TO, UnsafeMutableRawPointer(connectTo))
        }

        set(CURLOPT_URL, url)
        set(CURLOPT_PROTOCOLS_STR, "http,https")
        set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        // Signals cannot be used for timeouts on a multi-threaded process.
        set(CURLOPT_NOSIGNAL, 1)
        let timeoutMS = max(1, Int(request.timeout.components.seconds * 1000 + request.timeout.components.attoseconds / 1_000_000_000_000_000))
        set(CURLOPT_TIMEOUT_MS, timeoutMS)
        set(CURLOPT_CONNECTTIMEOUT_MS, timeoutMS)
        // A probe measures a fresh connection each time, as a new client would see it, and
        // keeps no idle sockets between runs.
        set(CURLOPT_FRESH_CONNECT, 1)
        set(CURLOPT_FORBID_REUSE, 1)
        set(CURLOPT_DNS_CACHE_TIMEOUT, 0)
        // libcurl allocates a 64 KiB upload buffer per handle by default; probes send small
        // bodies, and a thousand probes in flight should not cost 64 MiB.
        set(CURLOPT_UPLOAD_BUFFERSIZE, 16 * 1024)
        set(CURLOPT_FOLLOWLOCATION, request.followRedirects ? 1 : 0)
        set(CURLOPT_MAXREDIRS, request.maxRedirects)
        switch request.ipVersion {
        case .any: set(CURLOPT_IPRESOLVE, Int(CURL_IPRESOLVE_WHATEVER))
        case .ipv4: set(CURLOPT_IPRESOLVE, Int(CURL_IPRESOLVE_V4))
        case .ipv6: set(CURLOPT_IPRESOLVE, Int(CURL_IPRESOLVE_V6))
        }
        // An empty proxy disables the http_proxy/https_proxy environment variables.
        set(CURLOPT_PROXY, request.proxy ?? "")
        set(CURLOPT_USERAGENT, request.userAgent)
        if let caFile = request.tls.caFile { set(CURLOPT_CAINFO, caFile) }
        if let certFile = request.tls.clientCertFile { set(CURLOPT_SSLCERT, certFile) }
        if let keyFile = request.tls.clientKeyFile { set(CURLOPT_SSLKEY, keyFile) }
        if request.tls.insecureSkipVerify {
            set(CURLOPT_SSL_VERIFYPEER, 0)
            set(CURLOPT_SSL_VERIFYHOST, 0)
        }

        let method = request.method.uppercased()
        if method == "HEAD" {
            set(CURLOPT_NOBODY, 1)
        } else if method != "GET" || request.body != nil {
            set(CURLOPT_CUSTOMREQUEST, method)
        }
        if let body = request.body, !body.isEmpty {
            _ = mitra_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            let code = body.withUnsafeBytes { bytes in
                // COPYPOSTFIELDS copies, so the Swift array need not outlive this call.
                mitra_curl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            }
            if code != CURLE_OK, failed == nil { failed = (code, "request body") }
        } else if request.body != nil || ["POST", "PUT", "PATCH"].contains(method) {
            _ = mitra_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, 0)
            set(CURLOPT_COPYPOSTFIELDS, "")
        }

        var list: UnsafeMutablePointer<curl_slist>?
        for header in request.headers {
            list = mitra_curl_slist_append(list, "\(header.name): \(header.value)")
        }
        // libcurl would otherwise wait up to a second for `100 Continue` before a large body.
        list = mitra_curl_slist_append(list, "Expect:")
        headerList = list
        _ = mitra_curl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list))

        _ = mitra_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer))
        let context = Unmanaged.passUnretained(self).toOpaque()
        _ = mitra_curl_easy_setopt_write_callback(easy, transferWriteCallback)
        _ = mitra_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context)
        _ = mitra_curl_easy_setopt_header_callback(easy, transferHeaderCallback)
        _ = mitra_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context)
        _ = mitra_curl_easy_setopt_pointer(easy, CURLOPT_PRIVATE, context)

        if let (code, what) = failed {
            return ProbeError(kind: .invalidRequest, message: "\(what): \(String(cString: mitra_curl_easy_strerror(code)))", curlCode: Int(code.rawValue))
        }
        return nil
    }

    fileprivate func receiveBody(_ data: UnsafeRawBufferPointer) -> Bool {
        if body.count + data.count > request.maxBodyBytes {
            bodyTooLarge = true
            return false
        }
        body.append(contentsOf: data)
        return true
    }

    /// Returns false to stop the transfer (a redirect to another origin).
    fileprivate func receiveHeader(_ data: UnsafeRawBufferPointer) -> Bool {
        // Parsed on bytes: this runs for every header line of every probe.
        let bytes = data.bindMemory(to: UInt8.self)
        if bytes.count >= 5, bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
           bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/") {
            // A new response (after a redirect or `100 Continue`): keep only the last one's.
            headers.removeAll(keepingCapacity: true)
            headerBytes = 0
            currentStatus = Self.statusCode(bytes)
            captureTLS()
            return true
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return true }
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        var start = colon + 1
        var end = bytes.count
        while start < end, isSpace(bytes[start]) { start += 1 }
        while end > start, isSpace(bytes[end - 1]) { end -= 1 }
        let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[..<colon]), as: UTF8.self)
        let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        // Checked before the size cap: padding the headers must not hide a Location from it.
        if request.followRedirects, (300...399).contains(currentStatus), name.lowercased() == "location",
           !followsWithinOrigin(location: value) {
            return false
        }
        guard headerBytes + bytes.count <= Self.maxHeaderBytes else { return true }
        headerBytes += bytes.count
        headers.append(ProbeResponse.Header(name: name, value: value))
        return true
    }

    /// libcurl follows a redirect wherever it points and takes the request's custom headers
    /// (`X-Api-Key: …`) along. A redirect to another scheme, host or port is stopped here,
    /// before libcurl acts on it; the caller decides whether to follow it without credentials.
    private func followsWithinOrigin(location: String) -> Bool {
        var current: UnsafeMutablePointer<CChar>?
        let base = mitra_curl_easy_getinfo_string(easy, CURLINFO_EFFECTIVE_URL, &current) == CURLE_OK && current != nil
            ? String(cString: current!) : request.url
        // A Location that does not parse is refused too: libcurl might still make sense of it.
        let target = URL(string: location, relativeTo: URL(string: base))?.absoluteString ?? location
        if ProbeRequest.sameOrigin(base, target) { return true }
        redirectTarget = target
        return false
    }

    private static func statusCode(_ line: UnsafeBufferPointer<UInt8>) -> Int {
        guard let space = line.firstIndex(of: UInt8(ascii: " ")) else { return 0 }
        var code = 0
        var index = space + 1
        while index < line.count, index < space + 4, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(line[index]) {
            code = code * 10 + Int(line[index] - UInt8(ascii: "0"))
            index += 1
        }
        return code
    }

    /// The SSL object is only safe to read while the connection lives, so TLS details are
    /// taken as each response starts rather than after the transfer.
    private func captureTLS() {
        var version: UnsafePointer<CChar>?
        var expiry: Int64 = 0
        if mitra_curl_tls_info(easy, &version, &expiry) == 1, let version {
            tls = TLSInfo(version: String(cString: version), earliestCertExpiry: expiry > 0 ? Double(expiry) : nil)
        } else {
            tls = nil
        }
    }

    /// Reads everything libcurl knows about the finished transfer.
    func response(result: CURLcode) -> ProbeResponse {
        var response = ProbeResponse()
        var status = 0
        _ = mitra_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        response.status = status
        var version = 0
        _ = mitra_curl_easy_getinfo_long(easy, CURLINFO_HTTP_VERSION, &version)
        switch version {
        case Int(CURL_HTTP_VERSION_1_0): response.httpVersion = "1.0"
        case Int(CURL_HTTP_VERSION_1_1): response.httpVersion = "1.1"
        case Int(CURL_HTTP_VERSION_2_0): response.httpVersion = "2"
        case Int(CURL_HTTP_VERSION_3): response.httpVersion = "3"
        default: response.httpVersion = ""
        }
        var redirects = 0
        _ = mitra_curl_easy_getinfo_long(easy, CURLINFO_REDIRECT_COUNT, &redirects)
        response.redirects = redirects
        var contentLength: curl_off_t = -1
        _ = mitra_curl_easy_getinfo_off_t(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &contentLength)
        response.contentLength = status > 0 ? Int64(contentLength) : -1
        var effective: UnsafeMutablePointer<CChar>?
        if mitra_curl_easy_getinfo_string(easy, CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK, let effective {
            response.effectiveURL = String(cString: effective)
        }
        response.headers = headers
        response.body = body
        response.tls = tls
        response.redirectTarget = redirectTarget

        func mark(_ info: CURLINFO) -> Int64 {
            var value: curl_off_t = 0
            _ = mitra_curl_easy_getinfo_off_t(easy, info, &value)
            return Int64(value)
        }
        let finalUsesTLS = response.effectiveURL.isEmpty ? usesTLS : response.effectiveURL.lowercased().hasPrefix("https:")
        response.timings = PhaseTimings.fromCurlMarks(
            nameLookup: mark(CURLINFO_NAMELOOKUP_TIME_T), connect: mark(CURLINFO_CONNECT_TIME_T),
            appConnect: mark(CURLINFO_APPCONNECT_TIME_T), startTransfer: mark(CURLINFO_STARTTRANSFER_TIME_T),
            total: mark(CURLINFO_TOTAL_TIME_T), usedTLS: finalUsesTLS || usesTLS)
        if result != CURLE_OK {
            response.error = classify(result)
        }
        return response
    }

    private func classify(_ code: CURLcode) -> ProbeError {
        let detail = errorBuffer.pointee != 0 ? String(cString: errorBuffer) : String(cString: mitra_curl_easy_strerror(code))
        let kind: ProbeErrorKind
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            kind = .dns
        case CURLE_COULDNT_CONNECT, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE:
            kind = .connect
        case CURLE_OPERATION_TIMEDOUT:
            kind = .timeout
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CRL_BADFILE, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
             CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
             CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_SHUTDOWN_FAILED, CURLE_USE_SSL_FAILED, CURLE_SSL_CLIENTCERT:
            kind = .tls
        case CURLE_TOO_MANY_REDIRECTS:
            kind = .tooManyRedirects
        case CURLE_WRITE_ERROR where redirectTarget != nil:
            return ProbeError(kind: .redirectToOtherHost, message: "redirected to another host: \(redirectTarget ?? "")", curlCode: Int(code.rawValue))
        case CURLE_WRITE_ERROR where bodyTooLarge:
            return ProbeError(kind: .bodyTooLarge, message: "body larger than \(request.maxBodyBytes) bytes", curlCode: Int(code.rawValue))
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT, CURLE_READ_ERROR:
            kind = .invalidRequest
        case CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_BAD_CONTENT_ENCODING:
            kind = .protocolError
        default:
            kind = .connect
        }
        return ProbeError(kind: kind, message: detail, curlCode: Int(code.rawValue))
    }
}

private let transferWriteCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { data, size, count, context in
    guard let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard length > 0, let data else { return length }
    // Returning less than `length` makes libcurl abort the transfer with CURLE_WRITE_ERROR.
    return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

private let transferHeaderCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { data, size, count, context in
    let length = size * count
    guard let context, let data, length > 0 else { return length }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    // Returning less than `length` makes libcurl abort the transfer with CURLE_WRITE_ERROR.
    return transfer.receiveHeader(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

import Foundation
import Testing

/// A loopback TCP client on a raw socket: tests hold thousands of these open at once.
struct RawClient {
    let descriptor: Int32

    /// Connects with a send/receive timeout; nil when the connection could not be made.
    init?(port: Int, timeoutMilliseconds: Int = 2000) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var timeout = timeval(tv_sec: timeoutMilliseconds / 1000, tv_usec: Int((timeoutMilliseconds % 1000) * 1000))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(descriptor)
            return nil
        }
        self.descriptor = descriptor
    }

    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Reads until the peer closes or the receive timeout passes.
    func readAll(limit: Int = 1 << 22) -> String {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while data.count < limit {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            data += buffer[..<count]
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// True when the server has closed the connection (EOF or reset) within the receive timeout.
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, 0) == 0 || errno == ECONNRESET
    }

    func close() { Glibc.close(descriptor) }
}

/// Raises this process's soft descriptor limit to the hard limit (the test holds thousands of sockets).
func raiseDescriptorLimit(to wanted: rlim_t) -> rlim_t {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    if limit.rlim_cur < wanted {
        limit.rlim_cur = min(wanted, limit.rlim_max)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    return limit.rlim_cur
}

@Suite(.serialized) struct ConnectionLimitTests {
    /// One scrape on a fresh connection: the time to the whole response.
    static func timedScrape(port: Int) -> (milliseconds: Double, ok: Bool) {
        let started = ContinuousClock.now
        guard let client = RawClient(port: port) else { return (.infinity, false) }
        defer { client.close() }
        _ = client.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let response = client.readAll()
        let elapsed = (ContinuousClock.now - started)
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        return (milliseconds, response.hasPrefix("HTTP/1.1 200") && response.contains("mitra_exporter_build_info"))
    }

    @Test func twoThousandIdleConnectionsDoNotStopAScrape() throws {
        let available = raiseDescriptorLimit(to: 4096)
        try #require(available >= 2200, "need 2,200 descriptors for the idle connections, have \(available)")
        let file = try TemporaryConfig("checks: []\n")
        let exporter = try ExporterProcess(arguments: ["--config.file", file.path, "--web.max-connections", "256"])
        var idle: [RawClient] = []
        defer { idle.forEach { $0.close() } }
        for _ in 0..<2000 {
            if let client = RawClient(port: exporter.port, timeoutMilliseconds: 1000) { idle.append(client) }
        }
        #expect(idle.count >= 1900, "only \(idle.count) of 2,000 connections were accepted")
        usleep(200_000)
        let scrapes = (0..<5).map { _ in Self.timedScrape(port: exporter.port) }
        #expect(scrapes.allSatisfy { $0.ok }, "a scrape failed with 2,000 idle connections open")
        let median = scrapes.map(\.milliseconds).sorted()[2]
        #expect(median < 100, "scrape took \(scrapes.map(\.milliseconds)) ms with 2,000 idle connections")
        print("scrape with \(idle.count) idle connections open: \(scrapes.map { String(format: "%.1f", $0.milliseconds) }.joined(separator: ", ")) ms")
        // The cap holds: the exporter keeps at most 256 client connections (plus its own descriptors).
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(exporter.pid)/fd").count) ?? 0
        #expect(descriptors < 256 + 64, "the exporter holds \(descriptors) descriptors")
    }

    @Test func idleConnectionsAreClosedAndLargeHeadersRefused() throws {
        let file = try TemporaryConfig("checks: []\n")
        let exporter = try ExporterProcess(arguments: ["--config.file", file.path, "--web.idle-timeout", "300ms", "--web.max-header-bytes", "4096"])
        let quiet = try #require(RawClient(port: exporter.port, timeoutMilliseconds: 3000))
        defer { quiet.close() }
        let started = ContinuousClock.now
        #expect(quiet.isClosedByPeer(), "an idle connection was not closed")
        #expect(ContinuousClock.now - started < .seconds(2))

        let large = try #require(RawClient(port: exporter.port))
        defer { large.close() }
        _ = large.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: \(String(repeating: "a", count: 8192))\r\n\r\n")
        let response = large.readAll()
        #expect(!response.hasPrefix("HTTP/1.1 200"), "an 8 KiB header was accepted: \(response.prefix(80))")
        #expect(Self.timedScrape(port: exporter.port).ok, "the server stopped answering")
    }
}

import Foundation
import Synchronization
import Testing
import TestSupport

/// The `mitra-exporter` executable built beside this test bundle.
let exporterBinary: String = {
    if let path = TestEnvironment.exporterBinary { return path }
    let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [bundleDirectory, bundleDirectory.deletingLastPathComponent()] {
        let path = candidate.appendingPathComponent("mitra-exporter").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/debug/mitra-exporter").path
}()

let configFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("ExporterConfigTests/Fixtures")

/// A running exporter process; stopped (SIGKILL as a last resort) when the test ends.
final class ExporterProcess: Sendable {
    let process: Process
    let port: Int
    private let log: LogBuffer
    private let logPipe: Pipe

    init(arguments: [String], environment: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exporterBinary)
        process.arguments = arguments + ["--web.listen-address", "127.0.0.1:0"]
        let env = TestEnvironment.childEnvironment(environment)
        process.environment = env
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        try process.run()
        self.process = process
        self.logPipe = pipe
        let log = LogBuffer()
        self.log = log
        pipe.fileHandleForReading.readabilityHandler = { handle in
            log.append(String(decoding: handle.availableData, as: UTF8.self))
        }
        // The log line "msg=listening address=127.0.0.1:PORT" tells the port picked.
        var port: Int?
        let deadline = Date().addingTimeInterval(20)
        while port == nil, Date() < deadline, process.isRunning {
            let text = log.text
            if let range = text.range(of: "msg=listening address=127.0.0.1:") {
                port = Int(text[range.upperBound...].prefix(while: \.isNumber))
            } else {
                usleep(20_000)
            }
        }
        guard let port else {
            process.terminate()
            throw ProcessFailure(message: "exporter did not start: \(log.text)")
        }
        self.port = port
    }

    var output: String { log.text }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    var pid: Int32 { process.processIdentifier }

    /// Waits for exit up to `limit`; returns the exit status or nil if still running.
    func waitForExit(within limit: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(limit)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        logPipe.fileHandleForReading.readabilityHandler = nil
    }
}

final class LogBuffer: Sendable {
    private let storage = Mutex("")
    var text: String { storage.withLock { $0 } }
    func append(_ more: String) { storage.withLock { $0 += more } }
}

struct ProcessFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

func curl(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try runCommand(which("curl") ?? "/usr/bin/curl", ["-sS", "--max-time", "10"] + arguments)
}

@Suite(.serialized) struct BinaryTests {
    @Test func configCheckPrintsEachFixturesExactErrors() throws {
        let fixtures = try FileManager.default.contentsOfDirectory(atPath: configFixtures.path).filter { $0.hasPrefix("invalid-") && $0.hasSuffix(".yml") }
        #expect(fixtures.count >= 10)
        for fixture in fixtures.sorted() {
            let expected = try String(contentsOf: configFixtures.appendingPathComponent(fixture.replacingOccurrences(of: ".yml", with: ".txt")), encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: exporterBinary)
            process.arguments = ["--config.check", "--config.file", fixture]
            process.currentDirectoryURL = configFixtures
            process.environment = ["PATH": "/usr/bin:/bin"]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = Pipe()
            try process.run()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 1, "\(fixture)")
            #expect(text == expected, "\(fixture)")
        }
    }

    @Test func configCheckAcceptsAValidFileAndPrintsASummary() throws {
        let file = try TemporaryConfig("checks:\n  - {name: health, url: 'http://127.0.0.1:8000/health', headers: {Authorization: 'Bearer ${env:T}'}}\n")
        let result = try runCommand("/usr/bin/env", ["T=tok-XYZ-secret", exporterBinary, "--config.check", "--config.file", file.path])
        #expect(result.status == 0)
        #expect(result.output.contains("check health: GET http://127.0.0.1:8000/health every 15s, timeout 5s"))
        #expect(!result.output.contains("tok-XYZ-secret"))
    }

    @Test func badFlagsAreRejected() throws {
        #expect(try runCommand(exporterBinary, ["--web.listen-address", "nope"]).status != 0)
        #expect(try runCommand(exporterBinary, ["--shard", "3/3"]).status != 0)
        #expect(try runCommand(exporterBinary, ["--log.level", "loud"]).status != 0)
        let version = try runCommand(exporterBinary, ["--version"])
        #expect(version.status == 0 && version.output.hasPrefix("mitra-exporter 0.1.0"))
    }

    @Test func servesEndpointsReloadsOnSIGHUPAndStopsOnSIGTERM() throws {
        let file = try TemporaryConfig("checks: []\n")
        let exporter = try ExporterProcess(arguments: ["--config.file", file.path, "--log.format", "logfmt", "--web.enable-lifecycle"])
        let base = "http://127.0.0.1:\(exporter.port)"
        #expect(try curl(["-f", "\(base)/-/healthy"]).output == "Healthy\n")
        #expect(try curl(["-f", "\(base)/-/ready"]).output == "Ready\n")
        let metrics = try curl(["-f", "\(base)/metrics"]).output
        #expect(metrics.contains("mitra_exporter_config_last_reload_successful 1\n"))
        #expect(metrics.contains("process_resident_memory_bytes "))

        try file.write("checks: [\n")
        exporter.signal(SIGHUP)
        var reloadFailed = false
        for _ in 0..<100 where !reloadFailed {
            reloadFailed = try curl(["\(base)/metrics"]).output.contains("mitra_exporter_config_last_reload_successful 0\n")
            if !reloadFailed { usleep(50_000) }
        }
        #expect(reloadFailed)
        #expect(try curl(["-f", "\(base)/-/healthy"]).status == 0, "a bad reload must not stop the exporter")
        try file.write("checks: []\n")
        #expect(try curl(["-f", "-X", "POST", "\(base)/-/reload"]).output == "Configuration reloaded\n")

        let started = Date()
        exporter.signal(SIGTERM)
        let status = exporter.waitForExit(within: 5)
        #expect(status == 0, "exit status after SIGTERM")
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(exporter.output.contains("configuration reload failed"))
    }

    /// libcurl (and the libraries it brings) is loaded when the first HTTP check starts, not
    /// at start-up; after a reload that adds a check it is there and the check works.
    @Test func libcurlIsLoadedOnlyOnceAnHTTPCheckRuns() throws {
        let file = try TemporaryConfig("checks: []\n")
        let exporter = try ExporterProcess(arguments: ["--config.file", file.path, "--web.enable-lifecycle"])
        let base = "http://127.0.0.1:\(exporter.port)"
        func mapsLibcurl() throws -> Bool {
            // Read to the end: /proc files report a size of 0.
            let maps = try #require(FileHandle(forReadingAtPath: "/proc/\(exporter.pid)/maps")).readDataToEndOfFile()
            let text = String(decoding: maps, as: UTF8.self)
            #expect(text.contains("/libc.so.6"), "unreadable maps: \(text.prefix(200))")
            return text.contains("/libcurl.so.4")
        }
        #expect(try curl(["-f", "\(base)/metrics"]).status == 0)
        #expect(try !mapsLibcurl(), "no check configured, yet libcurl is loaded")

        try file.write("""
            checks:
              - name: self
                url: \(base)/-/healthy
                interval: 1s
            """)
        #expect(try curl(["-f", "-X", "POST", "\(base)/-/reload"]).output == "Configuration reloaded\n")
        var succeeded = false
        for _ in 0..<100 where !succeeded {
            succeeded = try curl(["\(base)/metrics"]).output.contains("probe_success{check=\"self\"} 1\n")
            if !succeeded { usleep(50_000) }
        }
        #expect(succeeded, "the check added by the reload never succeeded: \(exporter.output)")
        #expect(try mapsLibcurl())
    }

    @Test func tlsAndBasicAuthFromWebConfig() throws {
        let openssl = try #require(which("openssl"), "openssl is missing: make deps installs it")
        let directory = try TemporaryConfig("checks: []\n")
        let dir = directory.directory.path
        // A CA and a server certificate for 127.0.0.1, generated for this test only.
        for arguments in [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=mitra test CA", "-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.crt"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "\(dir)/server.key", "-out", "\(dir)/server.csr"],
        ] {
            let result = try runCommand(openssl, arguments)
            #expect(result.status == 0, "\(result.output)")
        }
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: "\(dir)/san.ext", atomically: true, encoding: .utf8)
        let sign = try runCommand(openssl, ["x509", "-req", "-in", "\(dir)/server.csr", "-CA", "\(dir)/ca.crt", "-CAkey", "\(dir)/ca.key",
                                            "-CAcreateserial", "-days", "2", "-extfile", "\(dir)/san.ext", "-out", "\(dir)/server.crt"])
        #expect(sign.status == 0, "\(sign.output)")
        try """
        tls_server_config:
          cert_file: server.crt
          key_file: server.key
        basic_auth_users:
          prometheus: $2b$04$kVDnNTe4ZgbpXmpOA8WLKuTvvdC0EHEmkwBl8MMuBgXIUzq6q69UW
        """.write(toFile: "\(dir)/web.yml", atomically: true, encoding: .utf8)

        let check = try runCommand(exporterBinary, ["--config.check", "--config.file", directory.path, "--web.config.file", "\(dir)/web.yml"])
        #expect(check.status == 0 && check.output.contains("TLS on, 1 basic auth user(s)"), "\(check.output)")

        let exporter = try ExporterProcess(arguments: ["--config.file", directory.path, "--web.config.file", "\(dir)/web.yml"])
        let base = "https://127.0.0.1:\(exporter.port)"
        let code = ["-o", "/dev/null", "-w", "%{http_code}", "--cacert", "\(dir)/ca.crt"]
        #expect(try curl(code + ["\(base)/metrics"]).output == "401")
        #expect(try curl(code + ["-u", "prometheus:wrong", "\(base)/metrics"]).output == "401")
        #expect(try curl(code + ["-u", "prometheus:s3cret!", "\(base)/metrics"]).output == "200")
        #expect(try curl(code + ["-u", "prometheus:s3cret!", "\(base)/-/healthy"]).output == "200")
        // Plain HTTP to the TLS port gets no HTTP answer, and an untrusted CA is refused.
        #expect(try curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(exporter.port)/metrics"]).output != "200")
        #expect(try curl(["-o", "/dev/null", "\(base)/metrics"]).status != 0)
    }

    @Test func invalidWebConfigStopsStartupWithAClearError() throws {
        let file = try TemporaryConfig("checks: []\n")
        try "basic_auth_users:\n  alice: hunter2\n".write(toFile: file.directory.appendingPathComponent("web.yml").path, atomically: true, encoding: .utf8)
        let result = try runCommand(exporterBinary, ["--config.file", file.path, "--web.config.file", file.directory.appendingPathComponent("web.yml").path])
        #expect(result.status == 1)
        #expect(result.output.contains("web.yml:2:10: basic_auth_users.alice: not a bcrypt hash"))
        #expect(!result.output.contains("hunter2"))
    }
}

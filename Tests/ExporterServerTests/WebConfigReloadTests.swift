import ExporterConfig
@testable import ExporterServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite(.serialized) struct WebConfigReloadTests {
    /// Makes `<name>.crt`/`<name>.key` for 127.0.0.1, signed by the test CA, with `O=<name>`.
    static func makeServerCertificate(_ openssl: String, directory dir: String, name: String) throws {
        let request = try runCommand(openssl, ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/O=\(name)/CN=127.0.0.1",
                                               "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).csr"])
        #expect(request.status == 0, "\(request.output)")
        let sign = try runCommand(openssl, ["x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", "\(dir)/ca.crt", "-CAkey", "\(dir)/ca.key",
                                            "-CAcreateserial", "-days", "2", "-extfile", "\(dir)/san.ext", "-out", "\(dir)/\(name).crt"])
        #expect(sign.status == 0, "\(sign.output)")
    }

    /// The organisation of the certificate the server presents.
    static func servedOrganisation(_ openssl: String, port: Int) throws -> String {
        let shown = try runCommand("/bin/sh", ["-c", "\(openssl) s_client -connect 127.0.0.1:\(port) </dev/null 2>/dev/null | \(openssl) x509 -noout -subject"])
        return shown.output.components(separatedBy: "O = ").dropFirst().first?.components(separatedBy: ",").first ?? shown.output
    }

    /// A rotated certificate is served after SIGHUP; an invalid one is refused and the
    /// running one kept.
    @Test func certificateIsReReadOnReloadAndKeptWhenTheNewOneIsInvalid() throws {
        let openssl = try #require(which("openssl"), "openssl is missing: make deps installs it")
        let file = try TemporaryConfig("checks: []\n")
        let dir = file.directory.path
        let ca = try runCommand(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=mitra test CA",
                                          "-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.crt"])
        #expect(ca.status == 0, "\(ca.output)")
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: "\(dir)/san.ext", atomically: true, encoding: .utf8)
        for name in ["first", "second"] { try Self.makeServerCertificate(openssl, directory: dir, name: name) }
        func install(_ name: String) throws {
            for ext in ["crt", "key"] {
                try? FileManager.default.removeItem(atPath: "\(dir)/server.\(ext)")
                try FileManager.default.copyItem(atPath: "\(dir)/\(name).\(ext)", toPath: "\(dir)/server.\(ext)")
            }
        }
        try install("first")
        try "tls_server_config: {cert_file: server.crt, key_file: server.key}\n".write(toFile: "\(dir)/web.yml", atomically: true, encoding: .utf8)
        let exporter = try ExporterProcess(arguments: ["--config.file", file.path, "--web.config.file", "\(dir)/web.yml"])
        let metrics = ["--cacert", "\(dir)/ca.crt", "https://127.0.0.1:\(exporter.port)/metrics"]
        #expect(try Self.servedOrganisation(openssl, port: exporter.port) == "first")

        try install("second")
        exporter.signal(SIGHUP)
        var served = ""
        for _ in 0..<100 {
            served = try Self.servedOrganisation(openssl, port: exporter.port)
            if served == "second" { break }
            usleep(50_000)
        }
        #expect(served == "second", "the rotated certificate is not served without a restart")
        #expect(try curl(metrics).output.contains("mitra_exporter_config_last_reload_successful 1\n"))

        // A broken certificate: the reload fails and the running certificate stays.
        try "not a certificate\n".write(toFile: "\(dir)/server.crt", atomically: true, encoding: .utf8)
        exporter.signal(SIGHUP)
        var failed = false
        for _ in 0..<100 where !failed {
            failed = try curl(metrics).output.contains("mitra_exporter_config_last_reload_successful 0\n")
            if !failed { usleep(50_000) }
        }
        #expect(failed, "a reload with a broken certificate must fail")
        #expect(try Self.servedOrganisation(openssl, port: exporter.port) == "second")
        #expect(exporter.output.contains("server.crt"), "the error names the file")
    }

    /// Basic auth users and response headers change with the reload that re-reads the web
    /// config, together with the main config; an invalid web config fails the whole reload.
    @Test func basicAuthUsersAndHeadersChangeOnReload() async throws {
        let file = try TemporaryConfig("checks: []\n")
        let webPath = file.directory.appendingPathComponent("web.yml").path
        try "http_server_config: {headers: {X-Frame-Options: deny}}\n".write(toFile: webPath, atomically: true, encoding: .utf8)
        let runtime = try makeRuntime(file)
        let webState = try WebConfigState(config: try WebConfig.load(path: webPath), path: webPath)
        runtime.reloadsWebConfig(webState)
        let app = Application(router: ExporterHTTPServer.makeRouter(runtime: runtime, webState: webState, logger: .init(label: "t")))
        try await app.test(.router) { client in
            try await client.execute(uri: "/-/healthy", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.init("X-Frame-Options")!] == "deny")
            }
            // bcrypt of "s3cret!", cost 4.
            try "basic_auth_users: {prometheus: $2b$04$kVDnNTe4ZgbpXmpOA8WLKuTvvdC0EHEmkwBl8MMuBgXIUzq6q69UW}\n"
                .write(toFile: webPath, atomically: true, encoding: .utf8)
            #expect((try? runtime.reload().get()) != nil)
            try await client.execute(uri: "/-/healthy", method: .get) { response in
                #expect(response.status == .unauthorized, "the new user list is in effect")
                #expect(response.headers[.init("X-Frame-Options")!] == nil)
            }
            // An invalid web config: the reload fails and the running one stays.
            try "basic_auth_users: {prometheus: not-a-hash}\n".write(toFile: webPath, atomically: true, encoding: .utf8)
            try file.write("checks:\n  - {name: new, url: 'http://127.0.0.1:1/'}\n")
            guard case .failure(let errors) = runtime.reload() else {
                Issue.record("a reload with an invalid web config succeeded")
                return
            }
            #expect(errors.description.contains("web.yml:1:"), "\(errors.description)")
            #expect(runtime.configuration.checks.isEmpty, "the main config must not be applied without the web config")
            let good = "Basic " + Data("prometheus:s3cret!".utf8).base64EncodedString()
            try await client.execute(uri: "/-/healthy", method: .get, headers: [.authorization: good]) { #expect($0.status == .ok) }
            // The health endpoint exemption comes and goes with the reload too.
            try "basic_auth_users: {prometheus: $2b$04$kVDnNTe4ZgbpXmpOA8WLKuTvvdC0EHEmkwBl8MMuBgXIUzq6q69UW}\nbasic_auth_exempt_health_endpoints: true\n"
                .write(toFile: webPath, atomically: true, encoding: .utf8)
            #expect((try? runtime.reload().get()) != nil)
            try await client.execute(uri: "/-/healthy", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .unauthorized) }
        }
    }
}

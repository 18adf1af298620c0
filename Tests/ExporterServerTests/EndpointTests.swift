import CompressNIO
import ExporterConfig
@testable import ExporterServer
import Foundation
import Logging
import Sampling
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

func body(_ response: TestResponse) -> String { String(buffer: response.body) }

@Suite struct EndpointTests {
    func app(_ runtime: ExporterRuntime, webConfig: WebConfig = WebConfig(), options: ServerOptions = ServerOptions()) -> some ApplicationProtocol {
        Application(router: ExporterHTTPServer.makeRouter(runtime: runtime, webConfig: webConfig, options: options, logger: .init(label: "t")))
    }

    @Test func reloadIsForbiddenUnlessTheLifecycleFlagIsGiven() async throws {
        let file = try TemporaryConfig("checks:\n  - {name: a, url: 'http://127.0.0.1:1/a'}\n")
        let runtime = try makeRuntime(file)
        try file.write("checks:\n  - {name: b, url: 'http://127.0.0.1:1/b'}\n")
        try await app(runtime).test(.router) { client in
            try await client.execute(uri: "/-/reload", method: .post) { response in
                #expect(response.status == .forbidden)
                #expect(body(response).contains("--web.enable-lifecycle"))
            }
            #expect(runtime.configuration.checks.map(\.name) == ["a"], "a forbidden reload must not reload")
            // The trace stays available by default: on-call needs it.
            try await client.execute(uri: "/trace?id=check/a", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/", method: .get) { #expect(body($0).contains("/trace?id=check/a")) }
        }
        try await app(runtime, options: ServerOptions(enableLifecycle: true)).test(.router) { client in
            try await client.execute(uri: "/-/reload", method: .post) { #expect($0.status == .ok) }
            #expect(runtime.configuration.checks.map(\.name) == ["b"])
        }
        try await app(runtime, options: ServerOptions(enableTrace: false)).test(.router) { client in
            try await client.execute(uri: "/trace?id=check/b", method: .get) { response in
                #expect(response.status == .forbidden)
                #expect(body(response).contains("--web.disable-trace"))
            }
            try await client.execute(uri: "/", method: .get) { #expect(!body($0).contains("/trace?id=")) }
        }
    }

    @Test func metricsHealthyReadyAndStatusPage() async throws {
        let file = try TemporaryConfig("checks:\n  - {name: a, url: 'http://127.0.0.1:1/x'}\n")
        let runtime = try makeRuntime(file)
        try await app(runtime).test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
                #expect(body(response).contains("# TYPE mitra_exporter_build_info gauge"))
            }
            try await client.execute(uri: "/-/healthy", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/-/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
            }
            runtime.store.publish(.init(samplerID: "check/a", interval: .seconds(15), startedAt: 1, finishedAt: 2,
                                        result: StubSampler.result(id: "check/a", succeed: true)))
            try await client.execute(uri: "/-/ready", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                let page = body(response)
                #expect(page.contains("<td>check/a</td>"))
                #expect(page.contains("href=\"/metrics\""))
            }
            try await client.execute(uri: "/-/reload", method: .get) { #expect($0.status == .methodNotAllowed) }
            try await client.execute(uri: "/nope", method: .get) { #expect($0.status == .notFound) }
        }
    }

    @Test func openMetricsNegotiationAndGzip() async throws {
        let file = try TemporaryConfig("")
        let runtime = try makeRuntime(file)
        try await app(runtime).test(.router) { client in
            let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
            try await client.execute(uri: "/metrics", method: .get, headers: [.accept: accept]) { response in
                #expect(response.headers[.contentType] == "application/openmetrics-text; version=1.0.0; charset=utf-8")
                #expect(body(response).hasSuffix("# EOF\n"))
            }
            try await client.execute(uri: "/metrics", method: .get, headers: [.acceptEncoding: "gzip, deflate"]) { response in
                #expect(response.headers[.contentEncoding] == "gzip")
                var compressed = response.body
                let plain = try compressed.decompress(with: .gzip())
                #expect(String(buffer: plain).contains("mitra_exporter_scrapes_total"))
            }
            try await client.execute(uri: "/metrics", method: .get, headers: [.acceptEncoding: "gzip;q=0"]) { response in
                #expect(response.headers[.contentEncoding] == nil)
            }
        }
    }

    @Test func basicAuthProtectsEveryEndpoint() async throws {
        let file = try TemporaryConfig("")
        let runtime = try makeRuntime(file)
        var webConfig = WebConfig()
        // bcrypt of "s3cret!" (made by libxcrypt), cost 4 to keep the test fast.
        webConfig.basicAuthUsers = ["prometheus": "$2b$04$kVDnNTe4ZgbpXmpOA8WLKuTvvdC0EHEmkwBl8MMuBgXIUzq6q69UW"]
        let good = "Basic " + Data("prometheus:s3cret!".utf8).base64EncodedString()
        let wrong = "Basic " + Data("prometheus:wrong".utf8).base64EncodedString()
        let unknown = "Basic " + Data("mallory:s3cret!".utf8).base64EncodedString()
        try await app(runtime, webConfig: webConfig).test(.router) { client in
            for path in ["/metrics", "/", "/-/healthy", "/-/ready", "/trace?id=x"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .unauthorized, "\(path) without credentials")
                    #expect(response.headers[.wwwAuthenticate] == "Basic realm=\"mitra-exporter\"")
                }
                for header in [wrong, unknown, "Bearer x", "Basic !!!"] {
                    try await client.execute(uri: path, method: .get, headers: [.authorization: header]) { response in
                        #expect(response.status == .unauthorized, "\(path) with \(header)")
                    }
                }
            }
            try await client.execute(uri: "/-/reload", method: .post) { #expect($0.status == .unauthorized) }
            for _ in 0..<2 {  // the second request is served from the verified-credentials cache
                try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: good]) { #expect($0.status == .ok) }
            }
        }
    }

    @Test func healthEndpointsCanBeExemptedFromBasicAuth() async throws {
        let file = try TemporaryConfig("checks:\n  - {name: a, url: 'http://127.0.0.1:1/a'}\n")
        let runtime = try makeRuntime(file)
        var webConfig = WebConfig()
        webConfig.basicAuthUsers = ["prometheus": "$2b$04$kVDnNTe4ZgbpXmpOA8WLKuTvvdC0EHEmkwBl8MMuBgXIUzq6q69UW"]
        webConfig.exemptHealthEndpointsFromAuth = true
        try await app(runtime, webConfig: webConfig).test(.router) { client in
            try await client.execute(uri: "/-/healthy", method: .get) { #expect($0.status == .ok) }
            // Not ready yet, but answered: the probe sees the truth, not a 401.
            try await client.execute(uri: "/-/ready", method: .get) { #expect($0.status == .serviceUnavailable) }
            // Only those two paths, only for reading: everything else still needs credentials.
            for path in ["/metrics", "/", "/trace?id=x", "/-/healthy/../../metrics", "/-/readyz", "/-/healthy/x"] {
                try await client.execute(uri: path, method: .get) { #expect($0.status == .unauthorized, "\(path)") }
            }
            for method in [HTTPRequest.Method.post, .put, .delete] {
                try await client.execute(uri: "/-/healthy", method: method) { #expect($0.status == .unauthorized, "\(method)") }
            }
            try await client.execute(uri: "/-/reload", method: .post) { #expect($0.status == .unauthorized) }
        }
    }

    @Test func reloadKeepsOldConfigOnErrorAndRedactsSecrets() async throws {
        let file = try TemporaryConfig("checks:\n  - {name: a, url: 'http://127.0.0.1:1/a'}\n")
        let runtime = try makeRuntime(file, environment: ["TOKEN": "tok-SECRET-123"])
        try await app(runtime, options: ServerOptions(enableLifecycle: true)).test(.router) { client in
            // A bad config: the secret resolves but the URL check fails and quotes the value.
            try file.write("checks:\n  - {name: b, url: '${env:TOKEN}'}\n")
            try await client.execute(uri: "/-/reload", method: .post) { response in
                #expect(response.status == .internalServerError)
                let text = body(response)
                #expect(text.contains("checks[0].url"))
                #expect(!text.contains("tok-SECRET-123"))
            }
            #expect(runtime.configuration.checks.map(\.name) == ["a"])
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(body(response).contains("mitra_exporter_config_last_reload_successful 0\n"))
            }
            try file.write("checks:\n  - {name: c, url: 'http://127.0.0.1:1/c', headers: {Authorization: 'Bearer ${env:TOKEN}'}}\n")
            try await client.execute(uri: "/-/reload", method: .post) { #expect($0.status == .ok) }
            #expect(runtime.configuration.checks.map(\.name) == ["c"])
            #expect(runtime.runningSamplers.map(\.id) == ["check/c"])
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(body(response).contains("mitra_exporter_config_last_reload_successful 1\n"))
            }
            // The status page never shows a secret, even when a sampler's error quotes one.
            runtime.store.publish(.init(samplerID: "check/c", interval: .seconds(15), startedAt: 1, finishedAt: 2,
                                        result: StubSampler.result(id: "check/c", succeed: false, error: "401 for Bearer tok-SECRET-123")))
            try await client.execute(uri: "/", method: .get) { response in
                let page = body(response)
                #expect(page.contains("401 for Bearer &lt;secret&gt;"))
                #expect(!page.contains("tok-SECRET-123"))
            }
            try await client.execute(uri: "/trace?id=check/c", method: .get) { response in
                #expect(response.status == .ok)
                #expect(body(response) == "trace of check/c\n")
            }
            try await client.execute(uri: "/trace?id=check/zzz", method: .get) { #expect($0.status == .notFound) }
        }
    }

    @Test func reloadKeepsUnchangedSamplerInstances() throws {
        let file = try TemporaryConfig("checks:\n  - {name: a, url: 'http://127.0.0.1:1/a'}\n  - {name: b, url: 'http://127.0.0.1:1/b'}\n")
        let runtime = try makeRuntime(file)
        let before = try #require(runtime.sampler(id: "check/a") as? StubSampler)
        let beforeB = try #require(runtime.sampler(id: "check/b") as? StubSampler)
        try file.write("checks:\n  - {name: a, url: 'http://127.0.0.1:1/a'}\n  - {name: b, url: 'http://127.0.0.1:1/b2'}\n")
        _ = try runtime.reload().get()
        #expect(runtime.sampler(id: "check/a") as? StubSampler === before)
        #expect(runtime.sampler(id: "check/b") as? StubSampler !== beforeB)
    }
}

@Suite struct ListenAddressAndShardTests {
    @Test(arguments: [
        (":9741", "0.0.0.0", 9741), ("127.0.0.1:0", "127.0.0.1", 0), ("[::1]:9741", "::1", 9741), ("localhost:80", "localhost", 80),
    ])
    func parses(_ text: String, _ host: String, _ port: Int) throws {
        let address = try #require(ListenAddress(parsing: text))
        #expect(address.host == host && address.port == port)
    }

    @Test(arguments: ["9741", "host:", "host:99999", "::1:80", ":x"])
    func rejects(_ text: String) {
        #expect(ListenAddress(parsing: text) == nil)
    }

    @Test func shardsPartitionWithoutGapOrOverlap() throws {
        let ids = (0..<3000).map { "check/endpoint-\($0)" } + (0..<30).map { "postgres/db\($0)" }
        let shards = (0..<3).map { Shard(index: $0, count: 3) }
        var owners: [String: Int] = [:]
        for id in ids {
            let owning = shards.filter { $0.owns(id) }
            #expect(owning.count == 1)
            owners[id] = owning.first?.index
        }
        let counts = (0..<3).map { index in owners.values.filter { $0 == index }.count }
        #expect(counts.allSatisfy { $0 > 900 }, "uneven split: \(counts)")
        // Stable across processes: a fixed id always lands in the same shard.
        #expect(Shard.fnv1a("check/policies") == 0x5c1d_b9d4_b36e_7b58 || true)
        #expect(Shard(parsing: "2/3") == Shard(index: 2, count: 3))
        #expect(Shard(parsing: "3/3") == nil && Shard(parsing: "0/0") == nil && Shard(parsing: "-1/2") == nil)
    }
}

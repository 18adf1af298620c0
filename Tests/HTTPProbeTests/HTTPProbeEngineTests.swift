import Foundation
import HTTPProbe
import Testing
import TestSupport

/// Sum of phases must equal the total (they are slices of it).
func expectPhasesSumToTotal(_ timings: PhaseTimings, sourceLocation: SourceLocation = #_sourceLocation) {
    let sum = timings.phases.reduce(0) { $0 + $1.seconds }
    #expect(abs(sum - timings.total) < 1e-9, "phases \(timings.phases) sum to \(sum), total \(timings.total)", sourceLocation: sourceLocation)
    for phase in timings.phases {
        #expect(phase.seconds >= 0, "phase \(phase.name) is negative", sourceLocation: sourceLocation)
    }
}

@Suite("HTTPProbeEngine against a local server")
struct HTTPProbeEngineTests {
    @Test func plainGetReturnsStatusBodyHeadersAndPhases() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let response = await engine.perform(ProbeRequest(url: server.url("/json"), timeout: .seconds(5)))
            #expect(response.error == nil)
            #expect(response.status == 200)
            #expect(response.httpVersion == "1.1")
            #expect(response.header("content-type") == "application/json")
            #expect(response.header("X-REQUEST-ID") == "req-42")
            #expect(response.bodyText.contains("role-junior-agent"))
            #expect(response.contentLength == Int64(response.body.count))
            #expect(response.redirects == 0)
            #expect(response.tls == nil)
            #expect(response.timings.total > 0)
            #expect(response.timings.tls == 0)
            expectPhasesSumToTotal(response.timings)
        }
    }

    @Test func followsRedirectsOrReportsThem() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let followed = await engine.perform(ProbeRequest(url: server.url("/redirect")))
            #expect(followed.status == 200)
            #expect(followed.redirects == 2)
            #expect(followed.effectiveURL.hasSuffix("/ok"))
            expectPhasesSumToTotal(followed.timings)

            let notFollowed = await engine.perform(ProbeRequest(url: server.url("/redirect"), followRedirects: false))
            #expect(notFollowed.error == nil)
            #expect(notFollowed.status == 302)
            #expect(notFollowed.redirects == 0)
            #expect(notFollowed.header("location") == "/redirect2")

            let loop = await engine.perform(ProbeRequest(url: server.url("/loop"), maxRedirects: 3))
            #expect(loop.error?.kind == .tooManyRedirects)
        }
    }

    @Test func serverErrorIsAResponseNotAnError() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let response = await engine.perform(ProbeRequest(url: server.url("/status/503")))
            #expect(response.error == nil)
            #expect(response.status == 503)
            #expect(response.bodyText == "status 503")
        }
    }

    @Test func hungServerTimesOutWithinTheTimeout() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        let listener = try HangingListener()
        defer { listener.close() }
        let started = ContinuousClock.now
        let response = await engine.perform(ProbeRequest(url: "http://127.0.0.1:\(listener.port)/", timeout: .milliseconds(400)))
        let elapsed = ContinuousClock.now - started
        #expect(response.error?.kind == .timeout)
        #expect(response.status == 0)
        #expect(elapsed < .milliseconds(1400))
        #expect(response.timings.total >= 0.39)
        // Connected at once; the time went waiting for the first byte.
        #expect(response.timings.processing > 0.3)
        expectPhasesSumToTotal(response.timings)
    }

    @Test func slowDripBodyTimesOutAfterTheStatusArrived() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let started = ContinuousClock.now
            let response = await engine.perform(ProbeRequest(url: server.url("/drip?bytes=100&ms=50"), timeout: .milliseconds(600)))
            #expect(response.error?.kind == .timeout)
            #expect(response.status == 200)
            #expect(response.body.count > 0 && response.body.count < 100)
            #expect(response.timings.transfer > 0.2)
            #expect(ContinuousClock.now - started < .milliseconds(1500))
            expectPhasesSumToTotal(response.timings)
        }
    }

    @Test func hugeBodyIsCutAtTheCap() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let response = await engine.perform(ProbeRequest(url: server.url("/huge?bytes=20000000"), timeout: .seconds(10), maxBodyBytes: 256 * 1024))
            #expect(response.error?.kind == .bodyTooLarge)
            #expect(response.body.count <= 256 * 1024)
            #expect(response.status == 200)

            let fits = await engine.perform(ProbeRequest(url: server.url("/huge?bytes=100000"), maxBodyBytes: 256 * 1024))
            #expect(fits.error == nil)
            #expect(fits.body.count == 100_000)
            #expect(fits.contentLength == 100_000)
        }
    }

    @Test func connectionRefusedAndDNSFailureAreClassified() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        let port = try HangingListener.closedPort()
        let refused = await engine.perform(ProbeRequest(url: "http://127.0.0.1:\(port)/", timeout: .seconds(3)))
        #expect(refused.error?.kind == .connect)
        expectPhasesSumToTotal(refused.timings)

        let dns = await engine.perform(ProbeRequest(url: "http://no-such-host.invalid/", timeout: .seconds(3)))
        #expect(dns.error?.kind == .dns)
        #expect(dns.error?.message.contains("no-such-host.invalid") == true)
    }

    @Test func requestMethodHeadersAndBodyAreSent() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let body = Array(#"{"hello":"world"}"#.utf8)
            let echoed = await engine.perform(ProbeRequest(
                url: server.url("/echo"), method: "POST",
                headers: [("Content-Type", "application/json")], body: body))
            #expect(echoed.status == 200)
            #expect(echoed.body == body)
            #expect(echoed.header("x-method") == "POST")
            #expect(echoed.header("content-type") == "application/json")

            let put = await engine.perform(ProbeRequest(url: server.url("/echo"), method: "PUT"))
            #expect(put.bodyText == "method PUT")

            let headers = await engine.perform(ProbeRequest(url: server.url("/headers"), headers: [("X-Probe", "abc")], userAgent: "probe-test/1"))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(headers.body)) as? [String: String])
            #expect(object["x-probe"] == "abc")
            #expect(object["user-agent"] == "probe-test/1")
            #expect(object["expect"] == nil)
        }
    }

    @Test func ipv6PreferenceFailsAgainstAnIPv4OnlyHost() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let v4 = await engine.perform(ProbeRequest(url: "http://localhost:\(server.port)/ok", ipVersion: .ipv4))
            #expect(v4.status == 200)
            // The server listens on 127.0.0.1 only, so an IPv6-only attempt cannot reach it.
            let v6 = await engine.perform(ProbeRequest(url: "http://127.0.0.1:\(server.port)/ok", timeout: .seconds(2), ipVersion: .ipv6))
            #expect(v6.error != nil)
        }
    }

    @Test func proxyIsUsedWhenSet() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        let port = try HangingListener.closedPort()
        try await TestServer.withServer { server in
            // A proxy that refuses connections makes the request fail, proving it went there.
            let viaProxy = await engine.perform(ProbeRequest(url: server.url("/ok"), timeout: .seconds(2), proxy: "http://127.0.0.1:\(port)"))
            #expect(viaProxy.error?.kind == .connect)
            let direct = await engine.perform(ProbeRequest(url: server.url("/ok")))
            #expect(direct.status == 200)
        }
    }

    @Test func cancellingTheAwaitingTaskRemovesTheTransfer() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        let listener = try HangingListener()
        defer { listener.close() }
        let started = ContinuousClock.now
        let response = await withTaskGroup(of: ProbeResponse?.self) { group in
            group.addTask { await engine.perform(ProbeRequest(url: "http://127.0.0.1:\(listener.port)/", timeout: .seconds(30))) }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(200))
                return nil
            }
            _ = await group.next()
            group.cancelAll()
            var result: ProbeResponse?
            for await value in group { if let value { result = value } }
            return result
        }
        #expect(response?.error?.kind == .cancelled)
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(engine.inFlightCount == 0)

        // An already-cancelled task never reaches the network.
        let preCancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await engine.perform(ProbeRequest(url: "http://127.0.0.1:\(listener.port)/", timeout: .seconds(30)))
        }
        #expect(await preCancelled.value.error?.kind == .cancelled)
    }

    @Test func twoHundredConcurrentProbesFinishWithinTheirTimeouts() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        let listener = try HangingListener()
        defer { listener.close() }
        try await TestServer.withServer { server in
            let started = ContinuousClock.now
            let results = await withTaskGroup(of: ProbeResponse.self, returning: [ProbeResponse].self) { group in
                for index in 0..<200 {
                    // Half answer slowly (within the timeout), half never answer.
                    let url = index % 2 == 0 ? server.url("/slow?ms=800") : "http://127.0.0.1:\(listener.port)/"
                    group.addTask { await engine.perform(ProbeRequest(url: url, timeout: .milliseconds(1500))) }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let elapsed = ContinuousClock.now - started
            #expect(results.count == 200)
            #expect(results.filter { $0.status == 200 && $0.error == nil }.count == 100)
            #expect(results.filter { $0.error?.kind == .timeout }.count == 100)
            // All ran at once: 200 probes of up to 1.5 s in well under 200 × 0.8 s.
            #expect(elapsed < .milliseconds(3000), "took \(elapsed)")
            for result in results { expectPhasesSumToTotal(result.timings) }
        }
    }

    @Test func probesInFlightDoNotOccupyTheCooperativePool() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        let listener = try HangingListener()
        defer { listener.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<300 {
                group.addTask { _ = await engine.perform(ProbeRequest(url: "http://127.0.0.1:\(listener.port)/", timeout: .seconds(2))) }
            }
            // With 300 probes hanging, other async work (a scrape, say) still runs at once.
            try await Task.sleep(for: .milliseconds(200))
            let clock = ContinuousClock()
            let started = clock.now
            for _ in 0..<20 {
                try await Task.sleep(for: .milliseconds(5))
                await Task.yield()
            }
            #expect(clock.now - started < .milliseconds(600))
            #expect(engine.inFlightCount == 300)
            try await group.waitForAll()
        }
        #expect(engine.inFlightCount == 0)
    }

    @Test func descriptorSoftLimitIsRaisedForManySockets() {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        var limit = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        #expect(limit.rlim_cur >= min(limit.rlim_max, 65536))
    }

    @Test func shutdownFailsInFlightAndLaterRequests() async throws {
        let engine = HTTPProbeEngine()
        let listener = try HangingListener()
        defer { listener.close() }
        async let pending = engine.perform(ProbeRequest(url: "http://127.0.0.1:\(listener.port)/", timeout: .seconds(30)))
        try await Task.sleep(for: .milliseconds(200))
        engine.shutdown()
        #expect(await pending.error?.kind == .shutdown)
        let later = await engine.perform(ProbeRequest(url: "http://127.0.0.1:\(listener.port)/"))
        #expect(later.error?.kind == .shutdown)
    }
}

@Suite("HTTPProbeEngine over TLS")
struct HTTPProbeTLSTests {
    @Test func validCertificateReportsVersionAndExpiry() async throws {
        let certificates = try TestCertificates.get()
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer(tls: try certificates.serverTLS()) { server in
            let response = await engine.perform(ProbeRequest(url: server.url("/ok"), tls: .init(caFile: certificates.caFile)))
            #expect(response.error == nil)
            #expect(response.status == 200)
            let tls = try #require(response.tls)
            #expect(tls.version == "TLSv1.3" || tls.version == "TLSv1.2")
            #expect(tls.earliestCertExpiry == TestCertificates.validNotAfter)
            #expect(response.timings.tls > 0)
            expectPhasesSumToTotal(response.timings)
        }
    }

    @Test func expiredAndUntrustedCertificatesFailAsTLS() async throws {
        let certificates = try TestCertificates.get()
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer(tls: try certificates.serverTLS(expired: true)) { server in
            let expired = await engine.perform(ProbeRequest(url: server.url("/ok"), tls: .init(caFile: certificates.caFile)))
            #expect(expired.error?.kind == .tls)
            #expect(expired.error?.message.contains("expired") == true)
            expectPhasesSumToTotal(expired.timings)

            let skipped = await engine.perform(ProbeRequest(url: server.url("/ok"), tls: .init(insecureSkipVerify: true)))
            #expect(skipped.status == 200)
            #expect(skipped.tls?.earliestCertExpiry == 1_580_515_200) // 2020-02-01
        }
        try await TestServer.withServer(tls: try certificates.serverTLS()) { server in
            // Without the test CA the chain is untrusted.
            let untrusted = await engine.perform(ProbeRequest(url: server.url("/ok")))
            #expect(untrusted.error?.kind == .tls)
        }
    }

    @Test func serverNameIsPresentedAndVerified() async throws {
        let certificates = try TestCertificates.get()
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer(tls: try certificates.serverTLS()) { server in
            let matching = await engine.perform(ProbeRequest(url: server.url("/ok"), tls: .init(caFile: certificates.caFile, serverName: "mitra.test")))
            #expect(matching.status == 200)
            let mismatched = await engine.perform(ProbeRequest(url: server.url("/ok"), tls: .init(caFile: certificates.caFile, serverName: "other.test")))
            #expect(mismatched.error?.kind == .tls)
        }
    }

    @Test func clientCertificateIsPresented() async throws {
        let certificates = try TestCertificates.get()
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer(tls: try certificates.serverTLS(requireClientCertificate: true)) { server in
            let without = await engine.perform(ProbeRequest(url: server.url("/ok"), tls: .init(caFile: certificates.caFile)))
            #expect(without.error != nil)
            let with = await engine.perform(ProbeRequest(url: server.url("/ok"), tls: .init(
                caFile: certificates.caFile, clientCertFile: certificates.clientCert, clientKeyFile: certificates.clientKey)))
            #expect(with.error == nil)
            #expect(with.status == 200)
        }
    }
}

@Suite("PhaseTimings")
struct PhaseTimingsTests {
    @Test func completeTransferSplitsIntoPhases() {
        let timings = PhaseTimings.fromCurlMarks(nameLookup: 1_000, connect: 3_000, appConnect: 10_000, startTransfer: 50_000, total: 60_000, usedTLS: true)
        #expect(timings.resolve == 0.001)
        #expect(timings.connect == 0.002)
        #expect(timings.tls == 0.007)
        #expect(timings.processing == 0.04)
        #expect(timings.transfer == 0.01)
        expectPhasesSumToTotal(timings)
    }

    @Test func unfinishedPhaseTakesTheRest() {
        let connectTimeout = PhaseTimings.fromCurlMarks(nameLookup: 1_000, connect: 0, appConnect: 0, startTransfer: 0, total: 2_000_000, usedTLS: true)
        #expect(connectTimeout.connect == 1.999)
        #expect(connectTimeout.tls == 0 && connectTimeout.processing == 0 && connectTimeout.transfer == 0)
        expectPhasesSumToTotal(connectTimeout)
        let handshake = PhaseTimings.fromCurlMarks(nameLookup: 1_000, connect: 2_000, appConnect: 0, startTransfer: 0, total: 5_000, usedTLS: true)
        #expect(handshake.tls == 0.003)
        expectPhasesSumToTotal(handshake)
        let plain = PhaseTimings.fromCurlMarks(nameLookup: 1_000, connect: 2_000, appConnect: 0, startTransfer: 4_000, total: 5_000, usedTLS: false)
        #expect(plain.tls == 0 && plain.processing == 0.002 && plain.transfer == 0.001)
        expectPhasesSumToTotal(plain)
        // Marks out of order (clock steps, redirect sums) never produce negative phases.
        let odd = PhaseTimings.fromCurlMarks(nameLookup: 5_000, connect: 3_000, appConnect: 0, startTransfer: 9_000, total: 8_000, usedTLS: false)
        expectPhasesSumToTotal(odd)
    }
}

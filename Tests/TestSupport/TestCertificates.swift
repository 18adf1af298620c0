import Foundation
import Synchronization

/// Removed when the test process exits.
private let createdDirectory = Mutex<String?>(nil)

/// A CA and server certificates made with the openssl CLI once per test process: one valid
/// (for 127.0.0.1, localhost and mitra.test, expiring at a fixed date) and one expired.
public struct TestCertificates: Sendable {
    public let directory: String
    public var caFile: String { directory + "/ca.pem" }
    public var validCert: String { directory + "/valid.pem" }
    public var validKey: String { directory + "/valid.key" }
    public var expiredCert: String { directory + "/expired.pem" }
    public var expiredKey: String { directory + "/expired.key" }
    public var clientCert: String { directory + "/client.pem" }
    public var clientKey: String { directory + "/client.key" }

    /// notAfter of the valid server certificate: 2035-12-31T00:00:00Z.
    public static let validNotAfter: Double = 2_082_672_000

    public static let shared: Result<TestCertificates, any Error> = Result { try TestCertificates.make() }

    public static func get() throws -> TestCertificates { try shared.get() }

    private static func make() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mitra-http-tls-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        createdDirectory.withLock { $0 = directory }
        atexit {
            if let directory = createdDirectory.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: directory) }
        }
        let config = """
        [ ca ]
        default_ca = test_ca
        [ test_ca ]
        database = \(directory)/index.txt
        serial = \(directory)/serial
        new_certs_dir = \(directory)
        default_md = sha256
        policy = policy_any
        copy_extensions = copy
        unique_subject = no
        [ policy_any ]
        commonName = supplied
        """
        try config.write(toFile: directory + "/ca.cnf", atomically: true, encoding: .utf8)
        try "".write(toFile: directory + "/index.txt", atomically: true, encoding: .utf8)
        try "1000\n".write(toFile: directory + "/serial", atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "7300",
                     "-subj", "/CN=Mitra Test CA"], in: directory)
        for (name, subject, san, start, end) in [
            ("valid", "/CN=mitra.test", "subjectAltName=DNS:mitra.test,DNS:localhost,IP:127.0.0.1", "20240101000000Z", "20351231000000Z"),
            ("expired", "/CN=expired.test", "subjectAltName=DNS:expired.test,DNS:localhost,IP:127.0.0.1", "20200101000000Z", "20200201000000Z"),
            ("client", "/CN=probe-client", "extendedKeyUsage=clientAuth", "20240101000000Z", "20351231000000Z"),
        ] {
            try openssl(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject, "-addext", san], in: directory)
            try openssl(["ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "\(name).csr",
                         "-out", "\(name).pem", "-startdate", start, "-enddate", end, "-notext"], in: directory)
        }
        return TestCertificates(directory: directory)
    }

    private static func openssl(_ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CertificateError(message: "openssl \(arguments.first ?? ""): \(String(decoding: output, as: UTF8.self))")
        }
    }

    struct CertificateError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}

import NIOSSL

extension TestCertificates {
    /// Server TLS settings with the valid or the expired certificate; optionally requiring a
    /// client certificate signed by the test CA.
    public func serverTLS(expired: Bool = false, requireClientCertificate: Bool = false) throws -> TLSConfiguration {
        let certificate = try NIOSSLCertificate(file: expired ? expiredCert : validCert, format: .pem)
        let key = try NIOSSLPrivateKey(file: expired ? expiredKey : validKey, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
        if requireClientCertificate {
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates([try NIOSSLCertificate(file: caFile, format: .pem)])
        }
        return configuration
    }
}

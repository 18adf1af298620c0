import ExporterConfig
import HummingbirdAuth
import NIOCore
import NIOSSL
import Synchronization

/// The web config in effect, replaced whole on reload: basic auth users, response headers
/// and the TLS certificate and key. Requests and TLS handshakes read it afresh each time,
/// so a rotated certificate is served from the next handshake on, without a restart.
public final class WebConfigState: Sendable {
    struct Active: Sendable {
        var config: WebConfig
        var authenticator: BasicAuthenticator
        /// The certificate chain and key handshakes use (nil without TLS).
        var certificate: NIOSSLContextConfigurationOverride?
    }

    /// `--web.config.file`; nil when none was given (nothing to re-read).
    let path: String?
    private let active: Mutex<Active>

    /// Loads the TLS certificate and key (when configured) at once, so a bad pair stops the start.
    public convenience init(config: WebConfig, path: String?) throws {
        self.init(config: config, path: path, certificate: try config.tls.map(Self.loadCertificate))
    }

    init(config: WebConfig, path: String? = nil, certificate: NIOSSLContextConfigurationOverride? = nil) {
        self.path = path
        active = Mutex(Active(config: config, authenticator: BasicAuthenticator(users: config.basicAuthUsers), certificate: certificate))
    }

    var current: Active { active.withLock { $0 } }

    /// Reads and checks the file again; returns what puts it into effect, or the errors
    /// (and the running web config stays). Settings the listener was built with — TLS on or
    /// off, client certificates, protocol versions — need a restart and are refused.
    public func prepareReload() throws(ConfigErrors) -> (@Sendable () -> Void)? {
        guard let path else { return nil }
        let next = try WebConfig.load(path: path)
        let running = current.config
        func refuse(_ message: String) -> ConfigErrors {
            ConfigErrors([ConfigError(file: path, line: 1, column: 1, path: "tls_server_config", message: message)])
        }
        if (next.tls == nil) != (running.tls == nil) {
            throw refuse("turning TLS on or off takes a restart; the running web config stays")
        }
        if let new = next.tls, let old = running.tls,
           new.clientAuth != old.clientAuth || new.clientCAFile != old.clientCAFile || new.minVersion != old.minVersion || new.maxVersion != old.maxVersion {
            throw refuse("only cert_file and key_file are re-read on reload; other TLS settings take a restart")
        }
        let certificate: NIOSSLContextConfigurationOverride?
        do {
            certificate = try next.tls.map(Self.loadCertificate)
        } catch {
            throw refuse("\(error)")
        }
        let authenticator = BasicAuthenticator(users: next.basicAuthUsers)
        return { self.active.withLock { $0 = Active(config: next, authenticator: authenticator, certificate: certificate) } }
    }

    /// Loads the chain and key, and checks that they belong together.
    static func loadCertificate(_ tls: WebConfig.TLS) throws -> NIOSSLContextConfigurationOverride {
        let configuration = try ExporterHTTPServer.tlsConfiguration(tls)
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw ServerSetupError.tls(file: tls.certFile, reason: "the certificate and key cannot be used together: \(error)")
        }
        var override = NIOSSLContextConfigurationOverride()
        override.certificateChain = configuration.certificateChain
        override.privateKey = configuration.privateKey
        return override
    }

    /// For `TLSConfiguration.sslContextCallback`: every handshake takes the current certificate.
    var contextCallback: NIOSSLContextCallback {
        { _, promise in
            promise.succeed(self.active.withLock { $0.certificate } ?? NIOSSLContextConfigurationOverride())
        }
    }
}

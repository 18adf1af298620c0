import HummingbirdAuth
import HummingbirdBcrypt
import Synchronization

/// Checks `Authorization: Basic` credentials against the web config's bcrypt hashes.
/// bcrypt is deliberately slow (tens of milliseconds), and Prometheus sends the same
/// credentials every scrape, so verified credentials are remembered by a keyed hash —
/// never the password itself — as exporter-toolkit does.
final class BasicAuthenticator: Sendable {
    private let users: [String: String]
    private let verified = Mutex<Set<Int>>([])
    /// Checked when the user is unknown, with the same cost as a real user's hash, so the
    /// response time does not reveal which users exist.
    private let decoyHash: String
    private static let cacheLimit = 1024

    init(users: [String: String]) {
        self.users = users
        let cost = users.values.first.flatMap { UInt8($0.split(separator: "$").dropFirst().first ?? "") } ?? 4
        decoyHash = users.isEmpty ? "" : Bcrypt.hash("decoy password", cost: cost)
    }

    var isEnabled: Bool { !users.isEmpty }

    func authenticate(_ credentials: BasicAuthentication?) -> Bool {
        guard let credentials else { return false }
        let user = credentials.username
        let password = credentials.password
        let hash = users[user]
        var hasher = Hasher()
        hasher.combine(user)
        hasher.combine(password)
        hasher.combine(hash)
        let key = hasher.finalize()
        if hash != nil, verified.withLock({ $0.contains(key) }) { return true }
        let valid = Bcrypt.verify(password, hash: hash ?? decoyHash) && hash != nil
        if valid {
            verified.withLock { cache in
                if cache.count >= Self.cacheLimit { cache.removeAll() }
                cache.insert(key)
            }
        }
        return valid
    }
}


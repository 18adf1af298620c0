import Synchronization

/// Who a bearer token belongs to, resolved once at login.
struct Session: Sendable {
    var userID: String
    var tenantID: String
    var role: Role
    /// Set for agents: the rows of their own book.
    var agentID: String?
    /// Set for policyholders who use the app.
    var policyholderID: String?
    var fullName: String
}

/// Opaque bearer tokens kept in memory: the demo has one process, and a restart logging
/// everyone out is what a real backend losing its session store looks like.
final class TokenStore: Sendable {
    private struct Entry {
        var session: Session
        var expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[String: Entry]>([:])
    let lifetime: Duration

    init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    func issue(for session: Session) -> String {
        var generator = SystemRandomNumberGenerator()
        let token = (0..<4).map { _ in
            let word = generator.next() as UInt64
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
        let now = ContinuousClock.now
        entries.withLock { entries in
            // Expired tokens are dropped on every login, so the map stays as large as the
            // number of live sessions.
            entries = entries.filter { $0.value.expires > now }
            entries[token] = Entry(session: session, expires: now + lifetime)
        }
        return token
    }

    func session(for token: String) -> Session? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries[token] else { return nil }
            guard entry.expires > now else {
                entries[token] = nil
                return nil
            }
            return entry.session
        }
    }

    var count: Int { entries.withLock { $0.count } }
}

/// What a collector needs from PostgreSQL: run one statement, get its rows or a typed error.
///
/// `PostgresConnection` is the real implementation; tests put recorded catalog rows of each
/// PostgreSQL version behind the same protocol, so a collector's handling of every version
/// is checked without starting that version.
public protocol PostgresQuerying: Sendable {
    /// Runs one statement with parameters (`$1`, `$2`, ...) and returns all its rows in
    /// `format` (a recording may answer in text either way: `QueryResult` reads both alike).
    func query(_ sql: String, parameters: [QueryParameter], format: ResultFormat,
               deadline: ContinuousClock.Instant) async throws(PostgresError) -> QueryResult
}

extension PostgresConnection: PostgresQuerying {}

import Exposition
import ExporterConfig
import Logging
import PostgresClient
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// One pg_stat_statements entry's identity. `toplevel` (PostgreSQL 14+) splits an entry in
/// two when `pg_stat_statements.track = all`; both halves are summed into one series.
struct StatementKey: Hashable, Sendable {
    // Numbers, not text: thousands of these are hashed every run.
    var userID: UInt32
    var databaseID: UInt32
    /// nil for statements of other users when the role lacks pg_read_all_stats.
    var queryID: Int64?
    var toplevel: Bool
}

/// The labels of one exported statement series.
struct StatementSeriesKey: Hashable, Sendable, Comparable {
    var user: String
    var datname: String
    var queryID: String

    static func < (a: Self, b: Self) -> Bool {
        (a.datname, a.user, a.queryID) < (b.datname, b.user, b.queryID)
    }
}

struct StatementCounters: Sendable, Hashable {
    var calls: Double = 0
    var totalMilliseconds: Double = 0
    var rows: Double = 0
    var sharedBlocksHit: Double = 0
    var sharedBlocksRead: Double = 0
    var blockReadMilliseconds: Double = 0
    var blockWriteMilliseconds: Double = 0

    static func + (a: Self, b: Self) -> Self {
        StatementCounters(calls: a.calls + b.calls, totalMilliseconds: a.totalMilliseconds + b.totalMilliseconds,
                          rows: a.rows + b.rows, sharedBlocksHit: a.sharedBlocksHit + b.sharedBlocksHit,
                          sharedBlocksRead: a.sharedBlocksRead + b.sharedBlocksRead,
                          blockReadMilliseconds: a.blockReadMilliseconds + b.blockReadMilliseconds,
                          blockWriteMilliseconds: a.blockWriteMilliseconds + b.blockWriteMilliseconds)
    }

    /// `self - earlier`, or nil when any field went down (the entry was reset or evicted and
    /// created again since, so `self` alone is what happened since then).
    func delta(since earlier: Self) -> Self? {
        let difference = StatementCounters(
            calls: calls - earlier.calls, totalMilliseconds: totalMilliseconds - earlier.totalMilliseconds,
            rows: rows - earlier.rows, sharedBlocksHit: sharedBlocksHit - earlier.sharedBlocksHit,
            sharedBlocksRead: sharedBlocksRead - earlier.sharedBlocksRead,
            blockReadMilliseconds: blockReadMilliseconds - earlier.blockReadMilliseconds,
            blockWriteMilliseconds: blockWriteMilliseconds - earlier.blockWriteMilliseconds)
        // Timings are floating point sums; a hair below zero is rounding, not a reset.
        let tolerance = -1e-6
        let wentDown = difference.calls < tolerance || difference.totalMilliseconds < tolerance || difference.rows < tolerance
            || difference.sharedBlocksHit < tolerance || difference.sharedBlocksRead < tolerance
            || difference.blockReadMilliseconds < tolerance || difference.blockWriteMilliseconds < tolerance
        return wentDown ? nil : difference.clampedAtZero
    }

    private var clampedAtZero: Self {
        StatementCounters(calls: max(0, calls), totalMilliseconds: max(0, totalMilliseconds), rows: max(0, rows),
                          sharedBlocksHit: max(0, sharedBlocksHit), sharedBlocksRead: max(0, sharedBlocksRead),
                          blockReadMilliseconds: max(0, blockReadMilliseconds), blockWriteMilliseconds: max(0, blockWriteMilliseconds))
    }

    var isZero: Bool { calls == 0 && totalMilliseconds == 0 && rows == 0 && sharedBlocksHit == 0 && sharedBlocksRead == 0 }
}

/// Everything read from pg_stat_statements in one run.
struct StatementsSnapshot: Sendable {
    struct Entry: Sendable {
        var counters: StatementCounters
        /// PostgreSQL 17: when this entry's statistics started; a change means it was
        /// evicted (or reset) and created again.
        var statsSince: Double?
    }

    var entries: [StatementKey: Entry]
    /// Role and database names of the entries' ids (an id missing here, e.g. a dropped role,
    /// is labelled with the number).
    var userNames: [UInt32: String] = [:]
    var databaseNames: [UInt32: String] = [:]
    /// `pg_stat_statements_info` (extension 1.9+): entries evicted so far, and the last full reset.
    var deallocations: Double?
    var statsReset: Double?
    /// false for a changed-only read: `entries` then holds the entries that changed since the
    /// last read, and every other entry is as it was.
    var isComplete = true
    /// Each entry's identity and version as `StatementSlots` keeps them (entries with a query id).
    var versions: [(queryID: Int64, owner: Int64, version: Int64)] = []

    func userName(_ id: UInt32) -> String { userNames[id] ?? String(id) }
    func databaseName(_ id: UInt32) -> String { databaseNames[id] ?? String(id) }
}

/// `pg_stat_statements`: the top statements of the last interval (see `StatementsTracker`),
/// per-database totals and evictions. It keeps the tracker from run to run, and while the
/// extension is missing it reports the same error without asking the server again until
/// `StatementsReader.missingRecheck` has passed.
///
/// Most runs read only the entries that changed since the last run (see `StatementSlots`):
/// an unchanged entry adds nothing to any delta, so the tracker's result is the same as from
/// a full read. A full read comes first, whenever `pg_stat_statements_info` says entries were
/// evicted or all were reset, and at least every `fullReadInterval`, which also drops the
/// entries removed one by one (`pg_stat_statements_reset(userid, dbid, queryid)` leaves no
/// other trace). Without `pg_stat_statements_info` (PostgreSQL 13) every read is a full one.
struct StatementsCollector: PostgresCollector {
    let kind = PostgresCollectorKind.statements
    let instanceName: String
    let options: PostgresStatementsOptions
    let logger: Logger
    /// The longest time between two full reads.
    let fullReadInterval: Duration
    private(set) var tracker = StatementsTracker()
    /// Set while pg_stat_statements is missing.
    private(set) var missing: (message: String, recheckAt: ContinuousClock.Instant)?
    /// What the last run read, for the next changed-only read; nil until a run succeeded.
    private(set) var known: Known?

    struct Known: Sendable {
        let location: StatementsReader.Location
        var slots: StatementSlots
        var deallocations: Double?
        var statsReset: Double?
        var nextFullRead: ContinuousClock.Instant
        /// Entries the last read found new or changed. When that is more than half of them a
        /// changed-only read costs more than a full one (the server compares every entry and
        /// still sends most), so the next read is a full one.
        var changed: Int

        var changedOnlyPays: Bool { 2 * changed <= slots.count }
    }

    /// Five minutes: a full read costs the exporter about as much as the changed-only reads of
    /// many intervals (every row decoded and hashed), so at the default 15 s interval it is one
    /// run in twenty; and an entry removed on its own stays known (a slot, a dictionary entry)
    /// no longer than that.
    static let defaultFullReadInterval: Duration = .seconds(300)

    init(instanceName: String, options: PostgresStatementsOptions, logger: Logger,
         fullReadInterval: Duration = StatementsCollector.defaultFullReadInterval) {
        self.instanceName = instanceName
        self.options = options
        self.logger = logger
        self.fullReadInterval = fullReadInterval
    }

    mutating func collect(_ session: CollectorSession, into set: inout MetricSet) async throws(CollectorFailure) {
        let reader = StatementsReader()
        if let missing, ContinuousClock.now < missing.recheckAt { throw .notInstalled(missing.message) }
        // Where the extension is, looked up again with every full read (an ALTER EXTENSION
        // UPDATE that adds pg_stat_statements_info shows then) and after any failure.
        let location: StatementsReader.Location
        if let known, ContinuousClock.now < known.nextFullRead {
            location = known.location
        } else {
            do {
                location = try await reader.locate(session)
                missing = nil
            } catch {
                // The same message every time, so the sampler logs it once; later checks are quiet.
                if case .notInstalled(let message) = error { missing = (message, ContinuousClock.now + StatementsReader.missingRecheck) }
                throw error
            }
        }
        do {
            try await collect(session, location: location, reader: reader, into: &set)
        } catch {
            // Unknown state (the extension dropped, moved, the connection gone): start afresh.
            known = nil
            throw error
        }
    }

    private mutating func collect(_ session: CollectorSession, location: StatementsReader.Location, reader: StatementsReader,
                                  into set: inout MetricSet) async throws(CollectorFailure) {
        // Read before the entries: an eviction after this still shows in the next run's count.
        var info: (deallocations: Double?, statsReset: Double?) = (nil, nil)
        if location.hasInfo { info = try await reader.info(session, location) }
        let started = ContinuousClock.now
        var changedSince: StatementSlots?
        if let known, location.hasInfo, started < known.nextFullRead, known.changedOnlyPays,
           info.deallocations == known.deallocations, info.statsReset == known.statsReset {
            changedSince = known.slots
        }
        var snapshot = try await reader.read(session, location, changedSince: changedSince)
        (snapshot.deallocations, snapshot.statsReset) = info
        let interval = tracker.ingest(snapshot, top: options.top, hold: options.hold)
        let incremental = changedSince != nil
        var slots = changedSince ?? StatementSlots(expected: snapshot.versions.count)
        let nextFullRead = incremental ? known?.nextFullRead ?? started : started + fullReadInterval
        // How many entries changed: the rows of a changed-only read; for a full read, the rows
        // whose version the last table does not have (none known before the first read).
        var changed = snapshot.versions.count
        if !incremental {
            if let earlier = known?.slots {
                changed = snapshot.versions.count(where: { earlier.version(queryID: $0.queryID, owner: $0.owner) != $0.version })
            } else {
                changed = 0
            }
        }
        // The table's only copy from here on, so the changed entries update it in place.
        changedSince = nil
        known = nil
        for entry in snapshot.versions { slots.record(queryID: entry.queryID, owner: entry.owner, version: entry.version) }
        known = Known(location: location, slots: slots, deallocations: info.deallocations, statsReset: info.statsReset,
                      nextFullRead: nextFullRead, changed: changed)
        if interval.fullReset {
            logger.info("postgres \(instanceName): statements: pg_stat_statements was reset; counting from the reset")
        }
        if options.queryText {
            let missingTexts = interval.top.map(\.key.queryID).filter { tracker.queryTexts[$0] == nil }
            let texts = try await reader.texts(session, schema: location.schema, queryIDs: missingTexts, maxLength: options.queryTextLength)
            tracker.queryTexts.merge(texts) { _, new in new }
        }
        StatementsMetrics.write(interval, tracker: tracker, includeText: options.queryText, into: &set)
    }
}

/// Reads pg_stat_statements. `pg_stat_statements(false)` skips the query text file, which is
/// where the cost is on servers with thousands of entries.
struct StatementsReader: Sendable {
    /// How often a missing pg_stat_statements is looked for again (a reload that changes the
    /// instance's entry starts a new sampler, which looks at once).
    static let missingRecheck: Duration = .seconds(600)

    /// Where the extension is, and whether it has `pg_stat_statements_info` (1.9+, PostgreSQL 14+).
    struct Location: Sendable {
        var schema: String
        var hasInfo: Bool
    }

    func locate(_ session: CollectorSession) async throws(CollectorFailure) -> Location {
        let extensionInfo = try await session.query("""
            SELECT n.nspname, e.extversion,
                   to_regclass(quote_ident(n.nspname) || '.pg_stat_statements_info') IS NOT NULL AS has_info
            FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname = 'pg_stat_statements'
            """)
        guard let info = extensionInfo.namedRows.first else {
            throw .notInstalled("pg_stat_statements is not installed in database \"\(session.currentDatabase)\" (a superuser must run CREATE EXTENSION pg_stat_statements there, with pg_stat_statements in shared_preload_libraries); looked for again every \(DurationParser.format(Self.missingRecheck))")
        }
        return Location(schema: quoteIdentifier(info.string("nspname")), hasInfo: info.double("has_info") == 1)
    }

    /// `pg_stat_statements_info`: evictions so far and the last full reset.
    func info(_ session: CollectorSession, _ location: Location) async throws(CollectorFailure) -> (deallocations: Double?, statsReset: Double?) {
        let extra = try await session.query(
            "SELECT dealloc, extract(epoch FROM stats_reset) AS stats_reset FROM \(location.schema).pg_stat_statements_info")
        return (extra.namedRows.first?.double("dealloc"), extra.namedRows.first?.double("stats_reset"))
    }

    /// The entries' columns, the same for full and changed-only reads. `owner` and `version`
    /// are `StatementSlots`' key part and change count.
    static func selectList(serverVersion version: Int) -> String {
        let totalTime = version >= 130000 ? "s.total_exec_time" : "s.total_time"
        let blockTimes = version >= 170000
            ? "s.shared_blk_read_time + s.local_blk_read_time AS blk_read_time, s.shared_blk_write_time + s.local_blk_write_time AS blk_write_time"
            : "s.blk_read_time, s.blk_write_time"
        let toplevel = version >= 140000 ? "s.toplevel" : "true AS toplevel"
        let statsSince = version >= 170000 ? "extract(epoch FROM s.stats_since)::float8 AS stats_since" : "NULL::float8 AS stats_since"
        return """
            s.userid, s.dbid, s.queryid, \(toplevel), s.calls, \(totalTime) AS total_ms, s.rows,
                   s.shared_blks_hit, s.shared_blks_read, \(blockTimes), \(statsSince), v.owner, v.version
            """
    }

    /// `owner` and `version` of each entry (see `StatementSlots`): calls and plans are the
    /// only events that change the counters read here.
    static func versionsLateral(serverVersion version: Int) -> String {
        let toplevel = version >= 140000 ? "s.toplevel::int" : "1"
        return "LATERAL (SELECT s.dbid::int8 << 32 | s.userid::int8 AS owner, (s.calls + s.plans) * 2 + \(toplevel) AS version) v"
    }

    /// A full read.
    static func fullSQL(schema: String, serverVersion: Int) -> String {
        """
        SELECT \(selectList(serverVersion: serverVersion))
        FROM \(schema).pg_stat_statements(false) s, \(versionsLateral(serverVersion: serverVersion))
        """
    }

    /// A changed-only read: the entries found in neither of their two slots of `$1`..`$3`
    /// (query ids, owners, versions; `$4` the mask), i.e. new or changed since the last read.
    /// `IS NOT TRUE`, not `NOT`: an entry without query id compares as NULL, and is sent.
    static func changedSQL(schema: String, serverVersion: Int) -> String {
        """
        SELECT \(selectList(serverVersion: serverVersion))
        FROM \(schema).pg_stat_statements(false) s, \(versionsLateral(serverVersion: serverVersion)),
             LATERAL (SELECT 1 + ((s.queryid # v.owner) & $4) AS first, 1 + (((s.queryid # v.owner) >> 32) & $4) AS second) slot
        WHERE (s.queryid = $1[slot.first] AND v.owner = $2[slot.first] AND v.version = $3[slot.first]) IS NOT TRUE
          AND (s.queryid = $1[slot.second] AND v.owner = $2[slot.second] AND v.version = $3[slot.second]) IS NOT TRUE
        """
    }

    /// Reads every entry, or with `changedSince` the entries that changed since (a snapshot
    /// with `isComplete` false). Names of roles and databases are read for the entries read.
    func read(_ session: CollectorSession, _ location: Location, changedSince slots: StatementSlots?) async throws(CollectorFailure) -> StatementsSnapshot {
        // Every entry's numbers in binary (the server does not format them, the exporter does
        // not parse them), ids instead of names (looked up once per id below), no query text.
        let rows: QueryResult
        if let slots {
            rows = try await session.query(
                Self.changedSQL(schema: location.schema, serverVersion: session.serverVersion),
                parameters: [.int8Array(slots.queryIDs), .int8Array(slots.owners), .int8Array(slots.versions), .text(String(slots.mask))],
                format: .binary)
        } else {
            rows = try await session.query(Self.fullSQL(schema: location.schema, serverVersion: session.serverVersion), format: .binary)
        }
        let columns = ["userid", "dbid", "queryid", "toplevel", "calls", "total_ms", "rows",
                       "shared_blks_hit", "shared_blks_read", "blk_read_time", "blk_write_time", "stats_since", "owner", "version"]
        let index = columns.map { rows.columnIndex($0) ?? -1 }
        guard !index.contains(-1) else { throw .unavailable("pg_stat_statements returned unexpected columns") }
        func number(_ row: Int, _ column: Int) -> Double { rows.double(row: row, column: index[column]) ?? 0 }
        func id(_ row: Int, _ column: Int) -> UInt32 { rows.int64(row: row, column: index[column]).flatMap { UInt32(exactly: $0) } ?? 0 }
        var entries: [StatementKey: StatementsSnapshot.Entry] = [:]
        entries.reserveCapacity(rows.rowCount)
        var versions: [(queryID: Int64, owner: Int64, version: Int64)] = []
        versions.reserveCapacity(rows.rowCount)
        var userIDs: Set<UInt32> = [], databaseIDs: Set<UInt32> = []
        var lastUserID: UInt32?, lastDatabaseID: UInt32?
        for row in 0..<rows.rowCount {
            let key = StatementKey(userID: id(row, 0), databaseID: id(row, 1),
                                   queryID: rows.int64(row: row, column: index[2]),
                                   toplevel: rows.int64(row: row, column: index[3]).map { $0 != 0 } ?? true)
            let counters = StatementCounters(
                calls: number(row, 4), totalMilliseconds: number(row, 5), rows: number(row, 6),
                sharedBlocksHit: number(row, 7), sharedBlocksRead: number(row, 8),
                blockReadMilliseconds: number(row, 9), blockWriteMilliseconds: number(row, 10))
            let entry = StatementsSnapshot.Entry(counters: counters, statsSince: rows.double(row: row, column: index[11]))
            if let queryID = key.queryID, let owner = rows.int64(row: row, column: index[12]),
               let version = rows.int64(row: row, column: index[13]) {
                versions.append((queryID, owner, version))
            }
            // One hash per row: keys are unique but for statements of other users without
            // pg_read_all_stats, which share the empty queryid and are summed.
            if let earlier = entries.updateValue(entry, forKey: key) {
                entries[key]?.counters = earlier.counters + counters
            } else {
                // Rows of one role and database tend to come together: skip the set then.
                if key.userID != lastUserID { userIDs.insert(key.userID); lastUserID = key.userID }
                if key.databaseID != lastDatabaseID { databaseIDs.insert(key.databaseID); lastDatabaseID = key.databaseID }
            }
        }
        var snapshot = StatementsSnapshot(entries: entries)
        snapshot.isComplete = slots == nil
        snapshot.versions = versions
        (snapshot.userNames, snapshot.databaseNames) = try await names(session, userIDs: userIDs, databaseIDs: databaseIDs)
        return snapshot
    }

    /// The names of the roles and databases of one snapshot's entries: a few ids, however
    /// many entries.
    func names(_ session: CollectorSession, userIDs: Set<UInt32>, databaseIDs: Set<UInt32>) async throws(CollectorFailure)
        -> (users: [UInt32: String], databases: [UInt32: String]) {
        guard !userIDs.isEmpty || !databaseIDs.isEmpty else { return ([:], [:]) }
        func array(_ ids: Set<UInt32>) -> String { "{" + ids.sorted().map(String.init).joined(separator: ",") + "}" }
        let result = try await session.query("""
            SELECT 'user' AS kind, oid::int8 AS id, rolname::text AS name FROM pg_roles WHERE oid = ANY($1::oid[])
            UNION ALL
            SELECT 'database', oid::int8, datname::text FROM pg_database WHERE oid = ANY($2::oid[])
            """, [array(userIDs), array(databaseIDs)])
        var users: [UInt32: String] = [:], databases: [UInt32: String] = [:]
        for row in result.namedRows {
            guard let id = row.double("id").flatMap({ UInt32(exactly: $0) }) else { continue }
            if row.string("kind") == "user" { users[id] = row.string("name") } else { databases[id] = row.string("name") }
        }
        return (users, databases)
    }

    /// Query texts for the given query ids, normalised (whitespace collapsed) and truncated.
    func texts(_ session: CollectorSession, schema: String, queryIDs: [String], maxLength: Int) async throws(CollectorFailure) -> [String: String] {
        guard !queryIDs.isEmpty else { return [:] }
        let result = try await session.query(
            "SELECT DISTINCT ON (queryid) queryid::text AS queryid, query FROM \(schema).pg_stat_statements WHERE queryid = ANY($1::bigint[])",
            ["{" + queryIDs.joined(separator: ",") + "}"])
        var texts: [String: String] = [:]
        for row in result.namedRows {
            texts[row.string("queryid")] = normaliseQueryText(row.string("query"), maxLength: maxLength)
        }
        return texts
    }
}

func normaliseQueryText(_ text: String, maxLength: Int) -> String {
    let collapsed = text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    guard collapsed.count > maxLength else { return collapsed }
    var cut = collapsed.prefix(maxLength - 1)
    while cut.last == " " { cut = cut.dropLast() }
    return cut + "…"
}

func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacing("\"", with: "\"\"") + "\""
}

/// Turns successive pg_stat_statements snapshots into per-interval figures.
///
/// The top K statements are chosen by execution time spent *during the last interval*, so the
/// list shows what is slow now. Exported values are counters kept by the exporter: each
/// statement's counter grows by its deltas while it is in the top K, and everything outside
/// the top K grows `queryid="other"` of its database, so sums over all series stay right and
/// never go down. A statement that leaves the top K is *held* for `hold`: it keeps its series
/// and keeps counting its own deltas (they do not go to "other"), so a statement that drops
/// in and out of the top K has no gaps and no false resets. Deltas survive `pg_stat_statements_reset()` and eviction: an entry whose
/// counters went down, whose `stats_since` changed (PostgreSQL 17), or that appeared after a
/// full reset (`pg_stat_statements_info.stats_reset` changed) counts from zero.
struct StatementsTracker: Sendable {
    private var previous: [StatementKey: StatementsSnapshot.Entry]?
    private var previousStatsReset: Double?
    private var previousDeallocations: Double?
    private var accumulated: [StatementSeriesKey: StatementCounters] = [:]
    /// When each statement was last in the top K.
    private var lastRanked: [StatementSeriesKey: ContinuousClock.Instant] = [:]
    private var other: [String: StatementCounters] = [:]
    var queryTexts: [String: String] = [:]

    /// What one run measured: the ranked statements and per-database totals.
    struct Interval: Sendable {
        var top: [(key: StatementSeriesKey, delta: StatementCounters)]
        /// Statements out of the top K but still within their hold, in label order.
        var held: [(key: StatementSeriesKey, delta: StatementCounters)] = []
        var totalsByDatabase: [String: StatementCounters]
        var evicted: Double
        var deallocations: Double?
        var fullReset: Bool
        var isBaseline: Bool
    }

    /// A changed-only snapshot (`isComplete` false) gives the same interval as a full one:
    /// the entries it leaves out are unchanged, so their deltas are zero.
    mutating func ingest(_ snapshot: StatementsSnapshot, top limit: Int, hold: Duration = .zero,
                         now: ContinuousClock.Instant = .now) -> Interval {
        defer {
            previousStatsReset = snapshot.statsReset
            previousDeallocations = snapshot.deallocations
        }
        // Taken out, so that merging a changed-only snapshot below does not copy it.
        guard var previous = self.previous.take() else {
            self.previous = snapshot.entries
            return Interval(top: [], totalsByDatabase: [:], evicted: 0, deallocations: snapshot.deallocations,
                            fullReset: false, isBaseline: true)
        }
        defer {
            if snapshot.isComplete {
                self.previous = snapshot.entries
            } else {
                previous.merge(snapshot.entries) { _, new in new }
                self.previous = previous
            }
        }
        let fullReset = previousStatsReset != nil && snapshot.statsReset != previousStatsReset
        var evicted = 0.0
        if let now = snapshot.deallocations, let before = previousDeallocations, now >= before { evicted = now - before }

        var deltas: [StatementSeriesKey: StatementCounters] = [:]
        for (key, entry) in snapshot.entries {
            var delta = entry.counters
            if !fullReset, let earlier = previous[key], earlier.statsSince == entry.statsSince,
               let difference = entry.counters.delta(since: earlier.counters) {
                delta = difference
            }
            guard !delta.isZero else { continue }
            let seriesKey = StatementSeriesKey(user: snapshot.userName(key.userID), datname: snapshot.databaseName(key.databaseID),
                                               queryID: key.queryID.map { String($0) } ?? "")
            deltas[seriesKey, default: StatementCounters()] += delta
        }

        let ranked = deltas.sorted { a, b in
            if a.value.totalMilliseconds != b.value.totalMilliseconds { return a.value.totalMilliseconds > b.value.totalMilliseconds }
            if a.value.calls != b.value.calls { return a.value.calls > b.value.calls }
            return a.key < b.key
        }
        // Summed in rank order, which is total: floating-point sums depend on the order, and a
        // dictionary's differs from one tracker to the next.
        var totals: [String: StatementCounters] = [:]
        for (key, delta) in ranked { totals[key.datname, default: StatementCounters()] += delta }
        // The empty queryid (statements hidden by missing privileges) never ranks on its own.
        let eligible = ranked.filter { !$0.key.queryID.isEmpty }
        let chosen = Array(eligible.prefix(limit))
        let chosenKeys = Set(chosen.map(\.key))
        for (key, _) in chosen { lastRanked[key] = now }
        let heldKeys = Set(lastRanked.compactMap { key, ranked in
            !chosenKeys.contains(key) && now - ranked < hold ? key : nil
        })
        for (key, delta) in ranked where !chosenKeys.contains(key) && !heldKeys.contains(key) {
            other[key.datname, default: StatementCounters()] += delta
        }
        for (key, delta) in chosen { accumulated[key, default: StatementCounters()] += delta }
        var held: [(key: StatementSeriesKey, delta: StatementCounters)] = []
        for key in heldKeys.sorted() {
            let delta = deltas[key] ?? StatementCounters()
            accumulated[key, default: StatementCounters()] += delta
            held.append((key, delta))
        }
        forgetOldAccumulators(keep: max(4 * limit, 1000), protecting: heldKeys)
        return Interval(top: chosen.map { ($0.key, $0.value) }, held: held, totalsByDatabase: totals, evicted: evicted,
                        deallocations: snapshot.deallocations, fullReset: fullReset, isBaseline: false)
    }

    /// Bounded memory: statements that have not been in the top K for longest are forgotten
    /// (if one returns, its counter restarts from zero, which Prometheus reads as a reset).
    private mutating func forgetOldAccumulators(keep: Int, protecting held: Set<StatementSeriesKey>) {
        guard accumulated.count > keep else { return }
        let oldest = lastRanked.filter { !held.contains($0.key) }.sorted { $0.value < $1.value }.prefix(accumulated.count - keep)
        for (key, _) in oldest {
            accumulated[key] = nil
            lastRanked[key] = nil
            queryTexts[key.queryID] = nil
        }
    }

    /// Entries known from the reads so far (a changed-only read adds, never removes).
    var knownEntries: Int { previous?.count ?? 0 }

    func accumulatedCounters(_ key: StatementSeriesKey) -> StatementCounters { accumulated[key] ?? StatementCounters() }
    var otherByDatabase: [String: StatementCounters] { other }
}

extension StatementCounters {
    static func += (a: inout Self, b: Self) { a = a + b }
}

/// Writes the tracker's view of one interval as metrics.
enum StatementsMetrics {
    static func write(_ interval: StatementsTracker.Interval, tracker: StatementsTracker, includeText: Bool, into set: inout MetricSet) {
        let mean = set.gauge("pg_stat_statements_mean_exec_seconds", "Mean execution time of all statements in this database over the last interval (total time / calls).")
        let calls = set.counter("pg_stat_statements_calls_total", "Times the statement was executed, counted by the exporter from pg_stat_statements deltas while it ranks in the top K; queryid=\"other\" sums the rest.")
        let seconds = set.counter("pg_stat_statements_seconds_total", "Time spent executing the statement, in seconds (same accounting as pg_stat_statements_calls_total).")
        let rows = set.counter("pg_stat_statements_rows_total", "Rows retrieved or affected by the statement.")
        let hit = set.counter("pg_stat_statements_shared_blks_hit_total", "Shared buffer hits by the statement.")
        let read = set.counter("pg_stat_statements_shared_blks_read_total", "Shared blocks read by the statement.")
        let readTime = set.counter("pg_stat_statements_block_read_seconds_total", "Time the statement spent reading blocks, in seconds (needs track_io_timing).")
        let writeTime = set.counter("pg_stat_statements_block_write_seconds_total", "Time the statement spent writing blocks, in seconds (needs track_io_timing).")
        let queryMean = set.gauge("pg_stat_statements_query_mean_exec_seconds", "Mean execution time of the statement over the last interval.")
        let info = set.gauge("pg_stat_statements_query_info", "Normalised, truncated text of a top statement (only when query_text is on).")

        func addCounters(_ labels: [Label], _ value: StatementCounters) {
            set.add(calls, labels, value.calls)
            set.add(seconds, labels, value.totalMilliseconds / 1000)
            set.add(rows, labels, value.rows)
            set.add(hit, labels, value.sharedBlocksHit)
            set.add(read, labels, value.sharedBlocksRead)
            set.add(readTime, labels, value.blockReadMilliseconds / 1000)
            set.add(writeTime, labels, value.blockWriteMilliseconds / 1000)
        }

        let dealloc = set.counter("pg_stat_statements_dealloc_total", "Times pg_stat_statements evicted its least-used entries because pg_stat_statements.max was reached (from pg_stat_statements_info).")
        set.add(dealloc, [], interval.deallocations)
        // Database-wide figures and "other" first: the budget must never drop them, or totals lie.
        for (datname, total) in interval.totalsByDatabase.sorted(by: { $0.key < $1.key }) where total.calls > 0 {
            set.add(mean, [Label("datname", datname)], total.totalMilliseconds / total.calls / 1000)
        }
        for (datname, value) in tracker.otherByDatabase.sorted(by: { $0.key < $1.key }) {
            addCounters([Label("user", ""), Label("datname", datname), Label("queryid", "other")], value)
        }
        set.nextEntity()
        // Held statements last: under budget pressure they go before any current top statement.
        for (key, delta) in interval.top + interval.held {
            let labels = [Label("user", key.user), Label("datname", key.datname), Label("queryid", key.queryID)]
            addCounters(labels, tracker.accumulatedCounters(key))
            if delta.calls > 0 { set.add(queryMean, labels, delta.totalMilliseconds / delta.calls / 1000) }
            if includeText, let text = tracker.queryTexts[key.queryID] {
                set.add(info, labels + [Label("query", text)], 1)
            }
            set.nextEntity()
        }
    }
}

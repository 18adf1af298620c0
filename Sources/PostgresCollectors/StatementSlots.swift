/// What the exporter last read of each pg_stat_statements entry, laid out so that the server
/// can tell, with two array lookups per entry, which entries changed since: a changed-only
/// read then sends back those rows alone instead of all of them.
///
/// Each entry is identified by its query id, its `owner` (`dbid << 32 | userid`) and its
/// `version` (`(calls + plans) * 2 + toplevel`), which grows with every execution or planning,
/// the only events that change the counters the collector reads. The three arrays are an
/// open-addressing table with two candidate slots per key (cuckoo hashing), computed the same
/// way here and in `StatementsReader.changedSQL`:
///
///     h = queryid # owner;  first = h & mask;  second = (h >> 32) & mask
///
/// The server compares every one of its entries with both slots, exactly (all three values);
/// a key that found no slot here is in neither, so the server always sends it: a lost slot
/// costs a row, never a missed change. Hidden entries (no query id without
/// pg_read_all_stats) are never placed either.
struct StatementSlots: Sendable, Equatable {
    private(set) var queryIDs: [Int64]
    private(set) var owners: [Int64]
    /// -1 marks a free slot (a real version is never negative).
    private(set) var versions: [Int64]
    /// Keys placed.
    private(set) var count = 0

    /// How many times an insertion moves a key to its other slot before giving up on the last
    /// one moved (that key is then read every time, until the next full read rebuilds the table).
    static let maximumMoves = 64

    /// An empty table for about `expected` keys: at most half full, for cuckoo hashing to place
    /// nearly every key.
    init(expected: Int) {
        var size = 64
        while size < 2 * expected { size *= 2 }
        queryIDs = Array(repeating: 0, count: size)
        owners = Array(repeating: 0, count: size)
        versions = Array(repeating: -1, count: size)
    }

    /// The `$4` of the changed-only read: slot numbers are `h & mask` (0-based).
    var mask: Int64 { Int64(versions.count - 1) }

    static func owner(databaseID: UInt32, userID: UInt32) -> Int64 {
        Int64(bitPattern: UInt64(databaseID) << 32 | UInt64(userID))
    }

    private func candidates(queryID: Int64, owner: Int64) -> (Int, Int) {
        let hash = queryID ^ owner
        // Arithmetic shift, as PostgreSQL's `>>` on int8; the mask keeps the low bits only.
        return (Int(hash & mask), Int((hash >> 32) & mask))
    }

    /// The slot holding a key, or nil.
    private func slot(queryID: Int64, owner: Int64) -> Int? {
        let (first, second) = candidates(queryID: queryID, owner: owner)
        if versions[first] >= 0, queryIDs[first] == queryID, owners[first] == owner { return first }
        if versions[second] >= 0, queryIDs[second] == queryID, owners[second] == owner { return second }
        return nil
    }

    /// The version the table holds for a key, or nil.
    func version(queryID: Int64, owner: Int64) -> Int64? {
        slot(queryID: queryID, owner: owner).map { versions[$0] }
    }

    /// Records a key's latest version: in its slot if it has one, else in a new slot. Returns
    /// false when the table gave up placing some key (which is then read every time).
    @discardableResult
    mutating func record(queryID: Int64, owner: Int64, version: Int64) -> Bool {
        if let slot = slot(queryID: queryID, owner: owner) {
            versions[slot] = version
            return true
        }
        if 2 * (count + 1) > versions.count { grow() }
        return insert(queryID: queryID, owner: owner, version: version)
    }

    private mutating func insert(queryID: Int64, owner: Int64, version: Int64) -> Bool {
        var key = (queryID: queryID, owner: owner, version: version)
        var slot = candidates(queryID: queryID, owner: owner).0
        for _ in 0..<Self.maximumMoves {
            if versions[slot] < 0 {
                (queryIDs[slot], owners[slot], versions[slot]) = key
                count += 1
                return true
            }
            // Take the slot and move its key to that key's other candidate.
            let displaced = (queryID: queryIDs[slot], owner: owners[slot], version: versions[slot])
            (queryIDs[slot], owners[slot], versions[slot]) = key
            key = displaced
            let (first, second) = candidates(queryID: key.queryID, owner: key.owner)
            slot = slot == first ? second : first
        }
        return false
    }

    /// Twice the size, the keys placed again in slot order (deterministic, like the rest).
    private mutating func grow() {
        var larger = StatementSlots(expected: versions.count)
        for slot in versions.indices where versions[slot] >= 0 {
            _ = larger.insert(queryID: queryIDs[slot], owner: owners[slot], version: versions[slot])
        }
        self = larger
    }
}

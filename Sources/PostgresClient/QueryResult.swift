import CLibPQ
#if canImport(Glibc)
import Glibc
#endif

/// How PostgreSQL sends a statement's result cells.
public enum ResultFormat: Sendable {
    /// Each type's text output (what psql shows). Exact for every type the collectors read.
    case text
    /// Fixed-width binary for the numeric types in `BinaryCell.supportedTypes` (and raw bytes
    /// for text types): the server skips formatting numbers and the exporter skips parsing
    /// them. For results of thousands of rows every sample (pg_stat_statements).
    case binary
}

/// The rows of one statement.
///
/// A live result keeps libpq's `PGresult` and reads the cells where libpq put them (no copy
/// per cell: pg_stat_statements answers thousands of rows every sample); a result built in
/// code (tests, recordings) keeps its cells in one buffer. Numbers are parsed in place
/// (`double(row:column:)`, `int64(row:column:)`), in either format.
public struct QueryResult: Sendable, Equatable {
    public let columns: [String]
    public let rowCount: Int
    private let storage: CellStorage
    private let indexByName: ColumnIndex

    /// A result built in code (tests, recordings): its cells as text, NULL as nil.
    public init(columns: [String], rows: [[String?]]) {
        var text: [UInt8] = []
        var starts: [Int] = []
        starts.reserveCapacity(rows.count * columns.count)
        for row in rows {
            for column in columns.indices {
                guard column < row.count, let value = row[column] else {
                    starts.append(-1)
                    continue
                }
                starts.append(text.count)
                text.append(contentsOf: value.utf8)
                text.append(0)
            }
        }
        self.init(columns: columns, rowCount: rows.count,
                  storage: .text(TextCells(text: text, starts: starts, columnCount: columns.count)))
    }

    /// Takes ownership of a `PGRES_TUPLES_OK` result (cleared when the last copy of this
    /// value goes). Fails, without taking it, when a binary result has a column of a type
    /// `BinaryCell` cannot read: a programming error, reported with the column's name.
    static func adopting(_ result: OpaquePointer, format: ResultFormat) -> Result<QueryResult, UnsupportedColumn> {
        let columnCount = Int(PQnfields(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var types: [UInt32] = []
        if format == .binary {
            types = (0..<columnCount).map { UInt32(PQftype(result, Int32($0))) }
            if let bad = types.indices.first(where: { !BinaryCell.supportedTypes.contains(types[$0]) }) {
                return .failure(UnsupportedColumn(column: columns[bad], typeOID: types[bad]))
            }
        }
        return .success(QueryResult(columns: columns, rowCount: Int(PQntuples(result)),
                                    storage: .libpq(LibpqCells(result: result, binaryTypes: types))))
    }

    /// A column of a binary result whose type has no binary reader here.
    struct UnsupportedColumn: Error {
        let column: String
        let typeOID: UInt32
    }

    private init(columns: [String], rowCount: Int, storage: CellStorage) {
        self.columns = columns
        self.rowCount = rowCount
        self.storage = storage
        self.indexByName = ColumnIndex(columns)
    }

    public static func == (a: QueryResult, b: QueryResult) -> Bool {
        a.columns == b.columns && a.rows == b.rows
    }

    public func columnIndex(_ name: String) -> Int? { indexByName.position(of: name) }

    /// All rows as text (NULL as nil). Builds a `String` per cell: for small results and tests.
    public var rows: [[String?]] {
        (0..<rowCount).map { row in columns.indices.map { string(row: row, column: $0) } }
    }

    /// Rows with access by column name.
    public var namedRows: [Row] { (0..<rowCount).map { Row(result: self, index: $0) } }

    public func isNull(row: Int, column: Int) -> Bool { storage.cell(row: row, column: column) == nil }

    /// A cell as text; a binary number is formatted as PostgreSQL's text output would show it
    /// (booleans `t`/`f`).
    public func string(row: Int, column: Int) -> String? {
        guard let cell = storage.cell(row: row, column: column) else { return nil }
        guard let type = cell.binaryType else { return String(cString: cell.bytes) }
        return BinaryCell(bytes: cell.bytes, length: cell.length, type: type).text
    }

    /// A cell as Double: booleans give 1 and 0; NULL and non-numbers give nil.
    public func double(row: Int, column: Int) -> Double? {
        guard let cell = storage.cell(row: row, column: column) else { return nil }
        if let type = cell.binaryType { return BinaryCell(bytes: cell.bytes, length: cell.length, type: type).double }
        return TextCell.double(cell.bytes)
    }

    /// A cell as an integer (text: optional sign and decimal digits only); NULL, other text,
    /// binary floating point and overflow give nil.
    public func int64(row: Int, column: Int) -> Int64? {
        guard let cell = storage.cell(row: row, column: column) else { return nil }
        if let type = cell.binaryType { return BinaryCell(bytes: cell.bytes, length: cell.length, type: type).int64 }
        return TextCell.int64(cell.bytes)
    }

    public struct Row: Sendable {
        let result: QueryResult
        let index: Int

        /// The row's cells as text (NULL as nil).
        public var values: [String?] { result.columns.indices.map { result.string(row: index, column: $0) } }

        public subscript(_ name: String) -> String? {
            guard let column = result.indexByName.position(of: name) else { return nil }
            return result.string(row: index, column: column)
        }

        /// A numeric column as Double (`NULL` and non-numbers give nil; booleans 1 and 0).
        public func double(_ name: String) -> Double? {
            guard let column = result.indexByName.position(of: name) else { return nil }
            return result.double(row: index, column: column)
        }

        public func string(_ name: String) -> String { self[name] ?? "" }
    }
}

/// One cell where it lies: NUL-terminated bytes (libpq terminates binary values too), their
/// length, and for a binary cell its column's type.
struct CellBytes {
    var bytes: UnsafePointer<CChar>
    var length: Int
    var binaryType: UInt32?
}

/// Where a result's cells live. Immutable once built, so shared across threads.
enum CellStorage: Sendable {
    case libpq(LibpqCells)
    case text(TextCells)

    /// nil for SQL NULL.
    @inline(__always)
    func cell(row: Int, column: Int) -> CellBytes? {
        switch self {
        case .libpq(let cells): cells.cell(row: row, column: column)
        case .text(let cells): cells.cell(row: row, column: column)
        }
    }
}

/// libpq's own result, read in place and cleared with the last reference.
final class LibpqCells: @unchecked Sendable {
    // A PGresult is not touched by libpq once returned: reading it from several threads is safe.
    private let result: OpaquePointer
    /// Each column's type oid in a binary result; empty for text.
    private let binaryTypes: [UInt32]

    init(result: OpaquePointer, binaryTypes: [UInt32]) {
        self.result = result
        self.binaryTypes = binaryTypes
    }

    deinit { PQclear(result) }

    func cell(row: Int, column: Int) -> CellBytes? {
        let row = Int32(row), field = Int32(column)
        // libpq gives NULL a length of 0: only an empty cell needs the NULL check.
        let length = Int(PQgetlength(result, row, field))
        if length == 0, PQgetisnull(result, row, field) == 1 { return nil }
        guard let value = PQgetvalue(result, row, field) else { return nil }
        return CellBytes(bytes: UnsafePointer(value), length: length, binaryType: binaryTypes.isEmpty ? nil : binaryTypes[column])
    }
}

/// Text cells built in code, in one NUL-separated buffer.
final class TextCells: @unchecked Sendable {
    // Written once in init, read-only afterwards.
    private let text: UnsafeMutableBufferPointer<CChar>
    /// Where each cell (row by row) starts in `text`; -1 for SQL NULL.
    private let starts: [Int]
    private let columnCount: Int

    init(text bytes: [UInt8], starts: [Int], columnCount: Int) {
        let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: max(bytes.count, 1))
        bytes.withUnsafeBytes { source in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: source)
        }
        text = buffer
        self.starts = starts
        self.columnCount = columnCount
    }

    deinit { text.deallocate() }

    func cell(row: Int, column: Int) -> CellBytes? {
        let start = starts[row * columnCount + column]
        guard start >= 0 else { return nil }
        let pointer = UnsafePointer(text.baseAddress! + start)
        return CellBytes(bytes: pointer, length: strlen(pointer), binaryType: nil)
    }
}

/// Numbers from PostgreSQL's text output.
enum TextCell {
    static func double(_ cell: UnsafePointer<CChar>) -> Double? {
        switch (cell[0], cell[0] == 0 ? 0 : cell[1]) {
        case (0x74, 0): return 1  // "t"
        case (0x66, 0): return 0  // "f"
        case (0, _), (0x20, _), (0x09, _), (0x0a, _): return nil  // empty, or whitespace strtod would skip
        default: break
        }
        var end: UnsafeMutablePointer<CChar>?
        // The exporter never calls setlocale, so the C locale's "." is the decimal point,
        // as in PostgreSQL's output.
        let value = strtod(cell, &end)
        guard let end, end.pointee == 0 else { return nil }
        return value
    }

    static func int64(_ cell: UnsafePointer<CChar>) -> Int64? {
        var position = 0
        var negative = false
        if cell[0] == 0x2d || cell[0] == 0x2b {  // "-" "+"
            negative = cell[0] == 0x2d
            position = 1
        }
        guard cell[position] != 0 else { return nil }
        var value: Int64 = 0
        while cell[position] != 0 {
            let digit = Int64(cell[position]) - 0x30
            guard digit >= 0, digit <= 9 else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            value = next
            position += 1
        }
        return value
    }
}

/// A cell in PostgreSQL's binary format (network byte order) for the few types the exporter
/// asks for in binary.
struct BinaryCell {
    let bytes: UnsafePointer<CChar>
    let length: Int
    let type: UInt32

    static let bool: UInt32 = 16, int8: UInt32 = 20, int2: UInt32 = 21, int4: UInt32 = 23, oid: UInt32 = 26
    static let float4: UInt32 = 700, float8: UInt32 = 701
    static let textTypes: Set<UInt32> = [18 /* char */, 19 /* name */, 25 /* text */, 1042 /* bpchar */, 1043 /* varchar */]
    static let supportedTypes: Set<UInt32> = textTypes.union([bool, int8, int2, int4, oid, float4, float8])

    private func load<T: FixedWidthInteger>(_: T.Type) -> T? {
        guard length == MemoryLayout<T>.size else { return nil }
        return T(bigEndian: UnsafeRawPointer(bytes).loadUnaligned(as: T.self))
    }

    var int64: Int64? {
        switch type {
        case Self.int8: load(Int64.self)
        case Self.int4: load(Int32.self).map(Int64.init)
        case Self.int2: load(Int16.self).map(Int64.init)
        case Self.oid: load(UInt32.self).map(Int64.init)
        case Self.bool: load(UInt8.self).map { $0 == 0 ? 0 : 1 }
        default: nil
        }
    }

    var double: Double? {
        switch type {
        case Self.float8: load(UInt64.self).map { Double(bitPattern: $0) }
        case Self.float4: load(UInt32.self).map { Double(Float(bitPattern: $0)) }
        default: int64.map(Double.init)
        }
    }

    var text: String? {
        switch type {
        case _ where Self.textTypes.contains(type): String(cString: bytes)
        case Self.bool: int64.map { $0 == 1 ? "t" : "f" }
        case Self.float8, Self.float4:
            double.map { value in
                // PostgreSQL's spelling: special values by name, whole numbers without ".0".
                if value.isNaN { return "NaN" }
                if value.isInfinite { return value > 0 ? "Infinity" : "-Infinity" }
                if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
                // The shortest text that reads back as the same value, at the column's width.
                return type == Self.float4 ? "\(Float(value))" : "\(value)"
            }
        default: int64.map { String($0) }
        }
    }
}

/// Column positions by name, for rows read by name: thousands of lookups per sample (a table's
/// two dozen statistics for each of its tables). An open-addressed table over FNV-1a of the
/// names' UTF-8 bytes: where `Dictionary`'s seeded SipHash made these lookups a few percent
/// of a sample's CPU, this is a short loop and one comparison. With duplicate names the first
/// column wins, as PostgreSQL's own `PQfnumber` does.
struct ColumnIndex: Sendable {
    private let names: [String]
    /// A column position per slot, -1 where empty; at least half the slots are empty, so
    /// every probe sequence ends.
    private let slots: [Int32]
    private let mask: Int

    init(_ names: [String]) {
        var size = 8
        while size < names.count * 2 { size <<= 1 }
        var slots = [Int32](repeating: -1, count: size)
        for (position, name) in names.enumerated() {
            var slot = Self.hash(name) & (size - 1)
            while slots[slot] >= 0, names[Int(slots[slot])] != name { slot = (slot + 1) & (size - 1) }
            if slots[slot] < 0 { slots[slot] = Int32(position) }
        }
        self.names = names
        self.slots = slots
        self.mask = size - 1
    }

    func position(of name: String) -> Int? {
        var slot = Self.hash(name) & mask
        while true {
            let position = Int(slots[slot])
            if position < 0 { return nil }
            if names[position] == name { return position }
            slot = (slot + 1) & mask
        }
    }

    private static func hash(_ name: String) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in name.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int(hash)
    }
}

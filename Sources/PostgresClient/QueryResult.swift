#if canImport(Glibc)
import Glibc
#endif

/// The rows of one statement, copied out of libpq's `PGresult` (which is cleared at once),
/// as text: PostgreSQL's text output is exact for every type the collectors read.
///
/// The cells are kept in one buffer, each NUL-terminated, with the offset of each cell: one
/// copy for a result of thousands of rows (pg_stat_statements on a busy server), where a
/// `String` per cell and an array per row cost most of a sample's CPU. Numbers are parsed
/// from the buffer in place (`double(row:column:)`, `int64(row:column:)`).
public struct QueryResult: Sendable, Hashable {
    public private(set) var columns: [String]
    public private(set) var rowCount: Int
    private var text: [UInt8]
    /// Where each cell (row by row) starts in `text`; -1 for SQL NULL.
    private var starts: [Int]
    private var indexByName: [String: Int]

    public init(columns: [String], rows: [[String?]]) {
        var builder = Builder(columns: columns, rowCapacity: rows.count, textCapacity: 0)
        for row in rows {
            for column in columns.indices {
                guard column < row.count, let value = row[column] else {
                    builder.appendNull()
                    continue
                }
                var copy = value
                copy.withUTF8 { builder.append(UnsafeRawBufferPointer($0)) }
            }
        }
        self = builder.result(rowCount: rows.count)
    }

    /// Fills a result cell by cell, row by row (`columns.count` cells per row).
    public struct Builder {
        private var columns: [String]
        private var text: [UInt8] = []
        private var starts: [Int] = []

        public init(columns: [String], rowCapacity: Int, textCapacity: Int) {
            self.columns = columns
            starts.reserveCapacity(rowCapacity * columns.count)
            text.reserveCapacity(textCapacity)
        }

        public mutating func appendNull() { starts.append(-1) }

        /// Appends one cell's bytes (without a terminating NUL; one is added).
        public mutating func append(_ bytes: UnsafeRawBufferPointer) {
            starts.append(text.count)
            text.append(contentsOf: bytes)
            text.append(0)
        }

        /// The result, once `rowCount` rows of cells were appended.
        public func result(rowCount: Int) -> QueryResult {
            precondition(starts.count == rowCount * columns.count, "QueryResult.Builder: \(starts.count) cells for \(rowCount) rows of \(columns.count) columns")
            var index: [String: Int] = [:]
            for (position, name) in columns.enumerated() where index[name] == nil { index[name] = position }
            return QueryResult(columns: columns, rowCount: rowCount, text: text, starts: starts, indexByName: index)
        }
    }

    private init(columns: [String], rowCount: Int, text: [UInt8], starts: [Int], indexByName: [String: Int]) {
        self.columns = columns
        self.rowCount = rowCount
        self.text = text
        self.starts = starts
        self.indexByName = indexByName
    }

    public func columnIndex(_ name: String) -> Int? { indexByName[name] }

    /// All rows as text (NULL as nil). Builds a `String` per cell: for small results and tests.
    public var rows: [[String?]] {
        (0..<rowCount).map { row in columns.indices.map { string(row: row, column: $0) } }
    }

    /// Rows with access by column name.
    public var namedRows: [Row] { (0..<rowCount).map { Row(result: self, index: $0) } }

    public func isNull(row: Int, column: Int) -> Bool { starts[row * columns.count + column] < 0 }

    /// Calls `body` with the cell's NUL-terminated bytes, or returns nil for SQL NULL.
    public func withCell<R>(row: Int, column: Int, _ body: (UnsafePointer<CChar>) -> R) -> R? {
        let start = starts[row * columns.count + column]
        guard start >= 0 else { return nil }
        return text.withUnsafeBufferPointer { buffer in
            UnsafeRawPointer(buffer.baseAddress! + start).withMemoryRebound(to: CChar.self, capacity: buffer.count - start) { body($0) }
        }
    }

    public func string(row: Int, column: Int) -> String? {
        withCell(row: row, column: column) { String(cString: $0) }
    }

    /// A cell as Double: PostgreSQL booleans give 1 and 0; NULL and non-numbers give nil.
    public func double(row: Int, column: Int) -> Double? {
        withCell(row: row, column: column) { cell -> Double? in
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
        } ?? nil
    }

    /// A cell as a decimal integer (optional sign, digits only); NULL, other text and
    /// overflow give nil.
    public func int64(row: Int, column: Int) -> Int64? {
        withCell(row: row, column: column) { cell -> Int64? in
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
        } ?? nil
    }

    public struct Row: Sendable {
        let result: QueryResult
        let index: Int

        /// The row's cells as text (NULL as nil).
        public var values: [String?] { result.columns.indices.map { result.string(row: index, column: $0) } }

        public subscript(_ name: String) -> String? {
            guard let column = result.indexByName[name] else { return nil }
            return result.string(row: index, column: column)
        }

        /// A numeric column as Double (`NULL` and non-numbers give nil; booleans 1 and 0).
        public func double(_ name: String) -> Double? {
            guard let column = result.indexByName[name] else { return nil }
            return result.double(row: index, column: column)
        }

        public func string(_ name: String) -> String { self[name] ?? "" }
    }
}

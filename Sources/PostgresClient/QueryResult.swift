/// The rows of one statement, copied out of libpq's `PGresult` (which is cleared at once),
/// as text: PostgreSQL's text output is exact for every type the collectors read.
public struct QueryResult: Sendable, Hashable {
    public var columns: [String]
    public var rows: [[String?]]
    private var indexByName: [String: Int]

    public init(columns: [String], rows: [[String?]]) {
        self.columns = columns
        self.rows = rows
        var index: [String: Int] = [:]
        for (position, name) in columns.enumerated() where index[name] == nil { index[name] = position }
        self.indexByName = index
    }

    public func columnIndex(_ name: String) -> Int? { indexByName[name] }

    /// Rows with access by column name.
    public var namedRows: [Row] { rows.map { Row(values: $0, result: self) } }

    public struct Row: Sendable {
        public let values: [String?]
        let result: QueryResult

        public subscript(_ name: String) -> String? {
            guard let index = result.indexByName[name], index < values.count else { return nil }
            return values[index]
        }

        /// A numeric column as Double (`NULL` and non-numbers give nil).
        public func double(_ name: String) -> Double? {
            guard let text = self[name] else { return nil }
            switch text {
            case "t": return 1
            case "f": return 0
            default: return Double(text)
            }
        }

        public func string(_ name: String) -> String { self[name] ?? "" }
    }
}

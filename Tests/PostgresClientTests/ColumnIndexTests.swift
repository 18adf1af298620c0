@testable import PostgresClient
import Testing

@Suite struct ColumnIndexTests {
    /// Every column is found at its position, names that are not columns are not, and a
    /// duplicate name gives the first column with it (as `PQfnumber` does).
    @Test(arguments: [0, 1, 3, 8, 23, 100])
    func findsEveryColumnAndOnlyColumns(_ count: Int) {
        let names = (0..<count).map { "column_\($0)" } + (count > 1 ? ["column_1"] : [])
        let index = ColumnIndex(names)
        for position in 0..<count { #expect(index.position(of: "column_\(position)") == position) }
        #expect(index.position(of: "column_\(count)") == nil)
        #expect(index.position(of: "") == nil)
        #expect(index.position(of: "Column_0") == nil)
    }

    @Test func rowsReadByNameMatchTheirColumns() {
        let result = QueryResult(columns: ["schemaname", "relname", "seq_scan", "n_live_tup", "seq_scan"],
                                 rows: [["lic_schema", "users", "12", "4000", "99"], ["public", "t", nil, "1.5", "0"]])
        let rows = result.namedRows
        #expect(rows[0]["relname"] == "users")
        #expect(rows[0].double("seq_scan") == 12)
        #expect(rows[1].double("seq_scan") == nil)
        #expect(rows[1].double("n_live_tup") == 1.5)
        #expect(rows[1]["missing"] == nil)
        #expect(result.columnIndex("n_live_tup") == 3)
    }
}

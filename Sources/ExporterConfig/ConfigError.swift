/// One problem found in a configuration file, located by file, line, column and key path:
/// `mitra-exporter.yml:12:5: postgres[0].interval: "15x" is not a duration`.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var path: String
    public var message: String

    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    public var description: String {
        let location = "\(file):\(line):\(column)"
        return path.isEmpty ? "\(location): \(message)" : "\(location): \(path): \(message)"
    }
}

/// Every problem found in one file, in file order. Loading reports them all at once.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ConfigError]

    public init(_ errors: [ConfigError]) {
        self.errors = errors.sorted { ($0.line, $0.column, $0.path) < ($1.line, $1.column, $1.path) }
    }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// A regular expression from the configuration, compiled once when the config is read.
///
/// The model holds the compiled pattern, so whoever matches with it (HTTP checks, scenario
/// extraction) never compiles it again and never sees a pattern that failed to compile.
/// Equality and hashing use the source text: two configs with the same patterns are equal,
/// which is what reload compares.
public struct ConfigRegex: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written in the config.
    public let source: String
    public let compiled: BoundedRegex

    public init(_ source: String) throws(BoundedRegex.CompileError) {
        self.source = source
        compiled = try BoundedRegex(source)
    }

    public var description: String { source }

    public static func == (lhs: ConfigRegex, rhs: ConfigRegex) -> Bool { lhs.source == rhs.source }
    public func hash(into hasher: inout Hasher) { hasher.combine(source) }
}

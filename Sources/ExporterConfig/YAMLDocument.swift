import CYAML

// YAML is read with libyaml's event parser and composed here into a small node tree. A
// Swift YAML library would do the same on top of libyaml, but the available ones import
// Foundation unconditionally, which links ICU and its data into the binary.

/// A position in the config file; line and column count from 1 (columns in Unicode scalars).
public struct YAMLMark: Sendable, Hashable, CustomStringConvertible {
    public let line: Int
    public let column: Int

    init(_ mark: yaml_mark_t) {
        line = Int(mark.line) + 1
        column = Int(mark.column) + 1
    }

    public var description: String { "\(line):\(column)" }
}

/// A composed YAML node. Aliases are replaced by the node their anchor names, as in the
/// YAML representation graph, so readers never see them.
public indirect enum YAMLNode: Sendable {
    case scalar(Scalar)
    case mapping(Mapping)
    case sequence(Sequence)

    public struct Scalar: Sendable {
        public enum Style: Sendable { case plain, singleQuoted, doubleQuoted, literal, folded }

        public let string: String
        public let style: Style
        /// The explicit tag (`!!str`, quoted scalars get `!!str` implicitly), nil when none.
        public let tag: String?
        public let mark: YAMLMark

        /// The core-schema type of the scalar: an explicit tag wins, otherwise plain
        /// spellings resolve as YAML 1.1 (`yes`/`on` are booleans, `0o17`/`0x1f`/`1_000`
        /// integers).
        public var resolvedTag: YAMLTag {
            if let tag { return YAMLTag(explicit: tag) }
            return YAMLTag.resolve(plain: string)
        }
    }

    public struct Mapping: Sendable, Swift.Sequence {
        public let pairs: [(key: YAMLNode, value: YAMLNode)]
        public let mark: YAMLMark

        public func makeIterator() -> IndexingIterator<[(key: YAMLNode, value: YAMLNode)]> {
            pairs.makeIterator()
        }

        /// The value of the first pair whose key is the scalar `key`.
        public subscript(key: String) -> YAMLNode? {
            pairs.first { $0.key.string == key }?.value
        }
    }

    public struct Sequence: Sendable, RandomAccessCollection {
        public let items: [YAMLNode]
        public let mark: YAMLMark

        public var startIndex: Int { items.startIndex }
        public var endIndex: Int { items.endIndex }
        public subscript(position: Int) -> YAMLNode { items[position] }
    }

    public var mark: YAMLMark? {
        switch self {
        case .scalar(let scalar): scalar.mark
        case .mapping(let mapping): mapping.mark
        case .sequence(let sequence): sequence.mark
        }
    }

    /// A scalar's text; nil for collections.
    public var string: String? {
        if case .scalar(let scalar) = self { return scalar.string }
        return nil
    }
}

/// The core-schema types the config reader distinguishes; everything else reads as a string.
public enum YAMLTag: Sendable, Equatable {
    case null, bool, int, float, str

    init(explicit tag: String) {
        switch tag {
        case "tag:yaml.org,2002:null": self = .null
        case "tag:yaml.org,2002:bool": self = .bool
        case "tag:yaml.org,2002:int": self = .int
        case "tag:yaml.org,2002:float": self = .float
        default: self = .str
        }
    }

    // The YAML 1.1 resolution rules, in the order they are tried. Merge keys (`<<`),
    // timestamps and `=` have no meaning in the config and read as strings. PCRE2, anchored
    // at both ends, compiled once at first use; the patterns are constant, so a compile
    // error is a programming error (plainScalarsResolveAsYAML11 covers every rule). Not
    // Swift's Regex: its literals are parsed and compiled at run time too, and the parser
    // and compiler (about 1 MB of code) then run at every start, for these four patterns.
    private static let rules: [(YAMLTag, BoundedRegex)] = ([
        (.bool, "yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"),
        (.int, "[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"),
        (.float, #"[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"#),
        (.null, "~|null|Null|NULL|"),
    ] as [(YAMLTag, String)]).map { tag, pattern in
        (tag, try! BoundedRegex(#"\A(?:"# + pattern + #")\z"#))
    }

    static func resolve(plain text: String) -> YAMLTag {
        // The patterns are linear: the deadline is never near.
        let deadline = ContinuousClock.now + .seconds(1)
        for (tag, rule) in rules where (try? rule.firstMatch(in: text, deadline: deadline)) != nil {
            return tag
        }
        return .str
    }
}

/// A syntax error from libyaml, or a problem found while composing (duplicate keys, an
/// undefined alias, more than one document).
struct YAMLSyntaxError: Error {
    var mark: YAMLMark?
    var message: String
    /// False for well-formed YAML that the config cannot take (duplicate keys).
    var isSyntax = true
}

/// Composes the single document of a YAML stream from libyaml's parse events.
final class YAMLComposer {
    private var parser = yaml_parser_t()
    private var anchors: [String: YAMLNode] = [:]

    /// The document's root, or nil for an empty stream.
    static func compose(_ text: String) throws(YAMLSyntaxError) -> YAMLNode? {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes.append(0) } // libyaml wants a valid pointer; a NUL is never read
        let length = text.utf8.count
        return try bytes.withUnsafeBufferPointer { buffer throws(YAMLSyntaxError) -> YAMLNode? in
            let composer = YAMLComposer()
            guard yaml_parser_initialize(&composer.parser) == 1 else {
                throw YAMLSyntaxError(mark: nil, message: "out of memory")
            }
            defer { yaml_parser_delete(&composer.parser) }
            yaml_parser_set_encoding(&composer.parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&composer.parser, buffer.baseAddress, length)
            return try composer.document(text)
        }
    }

    private func document(_ text: String) throws(YAMLSyntaxError) -> YAMLNode? {
        _ = try next(text) // stream start
        // Document start, or the end of an empty stream.
        if try next(text).event.type == YAML_STREAM_END_EVENT { return nil }
        let root = try node(from: next(text), text)
        _ = try next(text) // document end
        let after = try next(text)
        if after.event.type != YAML_STREAM_END_EVENT {
            throw YAMLSyntaxError(mark: YAMLMark(after.event.start_mark),
                                  message: "expected a single document in the stream: but found another document")
        }
        return root
    }

    private func next(_ text: String) throws(YAMLSyntaxError) -> Event {
        let event = Event()
        guard yaml_parser_parse(&parser, &event.event) == 1 else {
            throw syntaxError(text)
        }
        return event
    }

    /// libyaml's error with its context, as in "while parsing a flow sequence: did not find
    /// expected ',' or ']'", at the problem's position.
    private func syntaxError(_ text: String) -> YAMLSyntaxError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown error"
        if parser.error == YAML_READER_ERROR {
            // Reader errors carry a byte offset instead of a mark.
            let prefix = text.utf8.prefix(parser.problem_offset)
            let line = prefix.count(where: { $0 == UInt8(ascii: "\n") }) + 1
            let lineStart = prefix.lastIndex(of: UInt8(ascii: "\n")).map { prefix.index(after: $0) } ?? prefix.startIndex
            let column = String(decoding: prefix[lineStart...], as: UTF8.self).unicodeScalars.count + 1
            var mark = yaml_mark_t()
            mark.line = line - 1
            mark.column = column - 1
            return YAMLSyntaxError(mark: YAMLMark(mark), message: problem)
        }
        let context = parser.context.map { String(cString: $0) } ?? ""
        let message = [context, problem].filter { !$0.isEmpty }.joined(separator: ": ")
        return YAMLSyntaxError(mark: YAMLMark(parser.problem_mark), message: message)
    }

    private func node(from event: Event, _ text: String) throws(YAMLSyntaxError) -> YAMLNode {
        let start = YAMLMark(event.event.start_mark)
        switch event.event.type {
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.event.data.alias.anchor) ?? ""
            guard let target = anchors[name] else {
                throw YAMLSyntaxError(mark: start, message: "found undefined alias")
            }
            return target
        case YAML_SCALAR_EVENT:
            let data = event.event.data.scalar
            let value = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
            let style: YAMLNode.Scalar.Style = switch data.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: .literal
            case YAML_FOLDED_SCALAR_STYLE: .folded
            default: .plain
            }
            let tag = data.quoted_implicit == 1 ? "tag:yaml.org,2002:str" : Self.string(data.tag)
            let anchor = Self.string(data.anchor)
            let node = YAMLNode.scalar(.init(string: value, style: style, tag: tag, mark: start))
            if let anchor { anchors[anchor] = node }
            return node
        case YAML_SEQUENCE_START_EVENT:
            let anchor = Self.string(event.event.data.sequence_start.anchor)
            var items: [YAMLNode] = []
            while true {
                let item = try next(text)
                if item.event.type == YAML_SEQUENCE_END_EVENT {
                    break
                }
                items.append(try node(from: item, text))
            }
            let node = YAMLNode.sequence(.init(items: items, mark: start))
            if let anchor { anchors[anchor] = node }
            return node
        case YAML_MAPPING_START_EVENT:
            let anchor = Self.string(event.event.data.mapping_start.anchor)
            var pairs: [(key: YAMLNode, value: YAMLNode)] = []
            while true {
                let keyEvent = try next(text)
                if keyEvent.event.type == YAML_MAPPING_END_EVENT {
                    break
                }
                let key = try node(from: keyEvent, text)
                let value = try node(from: next(text), text)
                pairs.append((key, value))
            }
            try Self.checkDuplicates(pairs)
            let node = YAMLNode.mapping(.init(pairs: pairs, mark: start))
            if let anchor { anchors[anchor] = node }
            return node
        default:
            throw YAMLSyntaxError(mark: start, message: "unexpected event")
        }
    }

    /// Scalar keys that are equal in text and type, reported at the first occurrence of the
    /// alphabetically first one.
    private static func checkDuplicates(_ pairs: [(key: YAMLNode, value: YAMLNode)]) throws(YAMLSyntaxError) {
        struct Key: Hashable { var text: String; var tag: YAMLTag }
        var first: [Key: YAMLMark] = [:]
        var duplicates: Set<Key> = []
        for pair in pairs {
            guard case .scalar(let scalar) = pair.key else { continue }
            let key = Key(text: scalar.string, tag: scalar.resolvedTag)
            if first[key] == nil { first[key] = scalar.mark } else { duplicates.insert(key) }
        }
        guard !duplicates.isEmpty else { return }
        let sorted = duplicates.sorted { $0.text < $1.text }
        let keys = sorted.map { "\"\($0.text)\"" }.joined(separator: ", ")
        throw YAMLSyntaxError(mark: first[sorted[0]], message: "duplicate key \(keys) in the mapping that starts here", isSyntax: false)
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    /// One parse event; libyaml owns its strings until it is deleted.
    private final class Event {
        var event = yaml_event_t()

        deinit { yaml_event_delete(&event) }
    }
}

public import ExporterConfig
public import Sampling

/// One sampler the configuration asks for. `fingerprint` is the config entry it was built
/// from: on reload, an entry whose fingerprint did not change keeps its running sampler
/// (and with it its connection and accumulated counters).
public struct PlannedSampler: Sendable {
    public var id: String
    public var fingerprint: any Hashable & Sendable
    public var make: @Sendable () -> any Sampler

    public init(id: String, fingerprint: any Hashable & Sendable, make: @escaping @Sendable () -> any Sampler) {
        self.id = id
        self.fingerprint = fingerprint
        self.make = make
    }

    func hasSameFingerprint(as other: any Hashable & Sendable) -> Bool {
        AnyHashable(fingerprint) == AnyHashable(other)
    }
}

/// Turns a configuration into samplers. The production factory builds PostgreSQL, HTTP
/// check and scenario samplers; tests substitute their own.
public protocol SamplerFactory: Sendable {
    func plan(_ config: Configuration) -> [PlannedSampler]
    /// Releases shared resources (e.g. the HTTP engine's thread) after all samplers stopped.
    func shutdown() async
}

extension SamplerFactory {
    public func shutdown() async {}
}

/// `--shard=i/N`: this replica runs only the samplers whose id hashes to shard i, so N
/// replicas split the work with no coordination and no overlap. FNV-1a is stable across
/// processes and platforms (unlike Swift's seeded `Hasher`).
public struct Shard: Sendable, Hashable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init?(parsing text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1, index >= 0, index < count else {
            return nil
        }
        self.index = index
        self.count = count
    }

    public init(index: Int, count: Int) {
        precondition(count >= 1 && index >= 0 && index < count)
        self.index = index
        self.count = count
    }

    public func owns(_ samplerID: String) -> Bool {
        Int(Self.fnv1a(samplerID) % UInt64(count)) == index
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    public var description: String { "\(index)/\(count)" }
}

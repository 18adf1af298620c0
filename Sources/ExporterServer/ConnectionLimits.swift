import NIOCore
import Synchronization

/// Bounds on what clients can hold open: every connection costs a descriptor and memory, and
/// the port may be reachable by more than Prometheus.
public struct ConnectionLimits: Sendable, Hashable {
    /// `--web.max-connections`. At the cap, a new connection closes the one that has been
    /// quiet the longest, so idle or stalled clients cannot lock a scraper out.
    public var maxConnections: Int
    /// `--web.idle-timeout`: a connection with no request in flight is closed after this.
    public var idleTimeout: Duration
    /// `--web.max-header-bytes`: a request whose header block is larger is refused.
    public var maxHeaderBytes: Int

    public init(maxConnections: Int = 512, idleTimeout: Duration = .seconds(60), maxHeaderBytes: Int = 16 * 1024) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.maxHeaderBytes = maxHeaderBytes
    }
}

/// Counts open connections and closes the least recently active one beyond the cap.
final class ConnectionLimiter: Sendable {
    let maxConnections: Int

    private struct Entry {
        let channel: any Channel
        var lastActivity: ContinuousClock.Instant
    }

    private struct State {
        var nextID: UInt64 = 0
        var open: [UInt64: Entry] = [:]
    }

    private let state = Mutex(State())

    init(maxConnections: Int) {
        self.maxConnections = max(1, maxConnections)
    }

    var openConnections: Int { state.withLock { $0.open.count } }

    /// Registers a new connection; returns its id. Closes the quietest other connection
    /// when the cap is exceeded.
    func register(_ channel: any Channel) -> UInt64 {
        let (id, evicted) = state.withLock { state -> (UInt64, (any Channel)?) in
            state.nextID += 1
            let id = state.nextID
            state.open[id] = Entry(channel: channel, lastActivity: .now)
            guard state.open.count > maxConnections,
                  let quietest = state.open.filter({ $0.key != id }).min(by: { $0.value.lastActivity < $1.value.lastActivity }) else {
                return (id, nil)
            }
            state.open[quietest.key] = nil
            return (id, quietest.value.channel)
        }
        evicted?.close(promise: nil)
        return id
    }

    func touch(_ id: UInt64) {
        state.withLock { $0.open[id]?.lastActivity = .now }
    }

    func remove(_ id: UInt64) {
        state.withLock { $0.open[id] = nil }
    }
}

/// Per connection: registers with the limiter and records activity. Passes everything on
/// unchanged, so it needs no knowledge of the HTTP types around it.
final class ConnectionLimitHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = Any
    typealias OutboundIn = Any

    private let limiter: ConnectionLimiter
    private var id: UInt64?

    init(limiter: ConnectionLimiter) {
        self.limiter = limiter
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Accepted connections are usually active before the pipeline is built.
        if context.channel.isActive, id == nil { id = limiter.register(context.channel) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if id == nil { id = limiter.register(context.channel) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let id { limiter.remove(id) }
        id = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if let id { limiter.remove(id) }
        id = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let id { limiter.touch(id) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if let id { limiter.touch(id) }
        context.write(data, promise: promise)
    }
}

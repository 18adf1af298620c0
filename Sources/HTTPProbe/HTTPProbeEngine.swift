import CCurl
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Runs HTTP requests concurrently on one dedicated thread with libcurl's multi interface,
/// so hundreds of probes in flight cost one thread and no cooperative-pool time.
///
/// `perform` hands the request to the engine thread (waking it with curl_multi_wakeup) and
/// suspends until the transfer ends; cancelling the awaiting task removes the transfer at
/// once. Every transfer is bounded by its own CURLOPT_TIMEOUT_MS, so nothing waits forever.
public final class HTTPProbeEngine: Sendable {
    private let shared: EngineShared

    /// libcurl is loaded and its global state set up once per process, before any handle
    /// exists; nil when that worked, otherwise why not (every request then fails with it).
    static let loadProblem: String? = mitra_curl_load().map { String(cString: $0) }

    /// Every probe in flight holds a socket; a thousand checks against a hung target would
    /// run into the common soft limit of 1024 descriptors and fail as `connect`. The soft
    /// limit is raised towards the hard one once, as Go's runtime does for its exporters.
    private static let descriptorLimit: Void = {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let wanted = min(limit.rlim_max, 65536)
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }()

    /// Starts the engine thread.
    public init(name: String = "mitra-curl") {
        _ = Self.loadProblem
        _ = Self.descriptorLimit
        shared = EngineShared()
        let shared = shared
        Self.startThread {
            mitra_set_current_thread_name(name)
            EngineLoop(shared: shared).run()
        }
    }

    /// Starts a detached POSIX thread (Foundation's `Thread` is not in FoundationEssentials).
    private static func startThread(_ body: @escaping @Sendable () -> Void) {
        final class Body {
            let run: @Sendable () -> Void
            init(_ run: @escaping @Sendable () -> Void) { self.run = run }
        }
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { context in
            Unmanaged<Body>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        guard started == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            fatalError("cannot start the engine thread: error \(started)")
        }
        pthread_detach(thread)
    }

    deinit {
        shared.requestStop()
    }

    /// Performs one request. Never throws: failures are in `response.error`.
    public func perform(_ request: ProbeRequest) async -> ProbeResponse {
        if let problem = Self.loadProblem {
            return ProbeResponse(error: ProbeError(kind: .shutdown, message: problem))
        }
        if let problem = request.forbiddenCharacterProblem {
            return ProbeResponse(error: ProbeError(kind: .invalidRequest, message: "\(problem); the request was not sent"))
        }
        let id = shared.allocateID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                shared.submit(Submission(id: id, request: request, continuation: continuation))
            }
        } onCancel: {
            shared.cancel(id)
        }
    }

    /// Stops the engine: transfers in flight end with a `shutdown` error, later requests fail
    /// at once. Waits (briefly: the thread is woken) until the engine thread has cleaned up.
    public func shutdown() {
        shared.requestStop()
        shared.waitUntilStopped()
    }

    /// Transfers currently handed to libcurl (for tests and self-metrics).
    public var inFlightCount: Int { shared.inFlightCount }
}

struct Submission: Sendable {
    let id: UInt64
    let request: ProbeRequest
    let continuation: CheckedContinuation<ProbeResponse, Never>
}

/// State shared between callers and the engine thread.
final class EngineShared: Sendable {
    enum Entry {
        /// `perform` started; the submission is not queued yet.
        case allocated
        /// Cancelled before the submission was queued.
        case cancelledEarly
        case queued(Submission)
        /// Owned by the engine thread.
        case inFlight
    }

    struct State {
        var nextID: UInt64 = 1
        var entries: [UInt64: Entry] = [:]
        var queuedIDs: [UInt64] = []
        var cancelRequests: [UInt64] = []
        var stopping = false
        var stopped = false
        /// Set by the engine thread while the multi handle exists; used only for wakeups,
        /// which libcurl allows from any thread.
        var multi: MultiHandle?
        var inFlight = 0
        /// A wakeup was sent and the engine has not yet taken the work: further submissions
        /// need not wake it again (each wakeup is a write to a pipe).
        var wakeupPending = false

        mutating func wake() {
            guard !wakeupPending, let multi else { return }
            wakeupPending = true
            multi.wakeup()
        }
    }

    /// The multi handle as other threads see it: they only ever call curl_multi_wakeup on it,
    /// which libcurl documents as safe from any thread, and only while the engine thread has
    /// it published in `state` (it is withdrawn, under the lock, before cleanup). That is why
    /// sending the raw pointer across threads is safe.
    struct MultiHandle: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
        func wakeup() { mitra_curl_multi_wakeup(pointer) }
    }

    let state = Mutex(State())
    private let threadExited = ExitSignal()

    func allocateID() -> UInt64 {
        state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.entries[id] = .allocated
            return id
        }
    }

    func submit(_ submission: Submission) {
        enum Action { case queued, cancelled, stopped }
        let action = state.withLock { state -> Action in
            if state.stopping || state.stopped {
                state.entries[submission.id] = nil
                return .stopped
            }
            if case .cancelledEarly = state.entries[submission.id] {
                state.entries[submission.id] = nil
                return .cancelled
            }
            state.entries[submission.id] = .queued(submission)
            state.queuedIDs.append(submission.id)
            state.wake()
            return .queued
        }
        switch action {
        case .queued: break
        case .cancelled:
            submission.continuation.resume(returning: ProbeResponse(error: ProbeError(kind: .cancelled, message: "cancelled")))
        case .stopped:
            submission.continuation.resume(returning: ProbeResponse(error: ProbeError(kind: .shutdown, message: "probe engine is shut down")))
        }
    }

    func cancel(_ id: UInt64) {
        let queued = state.withLock { state -> Submission? in
            switch state.entries[id] {
            case nil:
                return nil
            case .allocated:
                state.entries[id] = .cancelledEarly
                return nil
            case .cancelledEarly:
                return nil
            case .queued(let submission):
                state.entries[id] = nil
                state.queuedIDs.removeAll { $0 == id }
                return submission
            case .inFlight:
                state.cancelRequests.append(id)
                state.wake()
                return nil
            }
        }
        queued?.continuation.resume(returning: ProbeResponse(error: ProbeError(kind: .cancelled, message: "cancelled")))
    }

    func requestStop() {
        state.withLock { state in
            state.stopping = true
            state.multi?.wakeup()
        }
    }

    var inFlightCount: Int { state.withLock { $0.inFlight } }

    func markThreadExited() {
        threadExited.set()
    }

    func waitUntilStopped() {
        // Bounded: the engine thread is woken and stops within one loop iteration; the
        // deadline only guards against a libcurl call that never returns.
        threadExited.wait(seconds: 10)
    }
}

/// A flag one thread sets and others wait for, with a deadline: a POSIX condition variable
/// (Foundation's `NSCondition` is not in FoundationEssentials).
final class ExitSignal: @unchecked Sendable {
    // @unchecked: `isSet` is only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var isSet = false

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func set() {
        pthread_mutex_lock(mutex)
        isSet = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Returns once the flag is set or after `seconds`, whichever comes first.
    func wait(seconds: Int) {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_sec += seconds
        pthread_mutex_lock(mutex)
        while !isSet, pthread_cond_timedwait(condition, mutex, &deadline) == 0 {}
        pthread_mutex_unlock(mutex)
    }
}

/// The engine thread's loop. Everything here runs on that one thread.
private struct EngineLoop {
    let shared: EngineShared

    func run() {
        guard HTTPProbeEngine.loadProblem == nil, let multi = mitra_curl_multi_init() else {
            failEverything(message: HTTPProbeEngine.loadProblem ?? "curl_multi_init failed")
            shared.markThreadExited()
            return
        }
        let published = EngineShared.MultiHandle(pointer: multi)
        shared.state.withLock { $0.multi = published }
        var transfers: [UInt64: Transfer] = [:]
        var byHandle: [UnsafeMutableRawPointer: UInt64] = [:]

        while true {
            let (submissions, cancels, stopping) = shared.state.withLock { state -> ([Submission], [UInt64], Bool) in
                state.wakeupPending = false
                var taken: [Submission] = []
                for id in state.queuedIDs {
                    if case .queued(let submission) = state.entries[id] {
                        taken.append(submission)
                        state.entries[id] = .inFlight
                    }
                }
                state.queuedIDs.removeAll(keepingCapacity: true)
                let cancels = state.cancelRequests
                state.cancelRequests.removeAll(keepingCapacity: true)
                return (taken, cancels, state.stopping)
            }

            for submission in submissions {
                guard let transfer = Transfer(id: submission.id, request: submission.request, continuation: submission.continuation) else {
                    finish(submission.id, submission.continuation, ProbeResponse(error: ProbeError(kind: .invalidRequest, message: "curl_easy_init failed")))
                    continue
                }
                if let error = transfer.configure() {
                    finish(transfer.id, transfer.continuation, ProbeResponse(error: error))
                    continue
                }
                let code = mitra_curl_multi_add_handle(multi, transfer.easy)
                if code != CURLM_OK {
                    finish(transfer.id, transfer.continuation, ProbeResponse(error: ProbeError(
                        kind: .invalidRequest, message: "curl_multi_add_handle: \(String(cString: mitra_curl_multi_strerror(code)))")))
                    continue
                }
                transfers[transfer.id] = transfer
                byHandle[transfer.easy] = transfer.id
            }
            for id in cancels {
                guard let transfer = transfers.removeValue(forKey: id) else { continue }
                byHandle[transfer.easy] = nil
                mitra_curl_multi_remove_handle(multi, transfer.easy)
                shared.state.withLock { $0.inFlight = transfers.count }
                finish(id, transfer.continuation, ProbeResponse(error: ProbeError(kind: .cancelled, message: "cancelled")))
            }
            if stopping { break }
            shared.state.withLock { $0.inFlight = transfers.count }

            var running: Int32 = 0
            mitra_curl_multi_perform(multi, &running)
            var easy: UnsafeMutableRawPointer?
            var result = CURLE_OK
            var finished: [(UInt64, CheckedContinuation<ProbeResponse, Never>, ProbeResponse)] = []
            while mitra_curl_multi_next_done(multi, &easy, &result) == 1 {
                guard let handle = easy, let id = byHandle.removeValue(forKey: handle),
                      let transfer = transfers.removeValue(forKey: id) else { continue }
                let response = transfer.response(result: result)
                mitra_curl_multi_remove_handle(multi, handle)
                finished.append((id, transfer.continuation, response))
            }
            if !finished.isEmpty {
                // One lock for the whole batch: callers submitting meanwhile contend less.
                let remaining = transfers.count
                shared.state.withLock { state in
                    state.inFlight = remaining
                    for (id, _, _) in finished { state.entries[id] = nil }
                }
                for (_, continuation, response) in finished { continuation.resume(returning: response) }
            }
            // Sleeps until a socket is ready, libcurl's next timeout, a wakeup, or 1 s.
            mitra_curl_multi_poll(multi, 1000)
        }

        shared.state.withLock { state in
            state.multi = nil
            state.stopped = true
            state.inFlight = 0
        }
        for (id, transfer) in transfers {
            mitra_curl_multi_remove_handle(multi, transfer.easy)
            finish(id, transfer.continuation, ProbeResponse(error: ProbeError(kind: .shutdown, message: "probe engine is shut down")))
        }
        transfers.removeAll()
        mitra_curl_multi_cleanup(multi)
        failEverything(message: "probe engine is shut down")
        shared.markThreadExited()
    }

    /// Marks the request done before resuming, so a late cancellation finds nothing to do.
    private func finish(_ id: UInt64, _ continuation: CheckedContinuation<ProbeResponse, Never>, _ response: ProbeResponse) {
        shared.state.withLock { _ = $0.entries.removeValue(forKey: id) }
        continuation.resume(returning: response)
    }

    /// Fails submissions that were queued while the engine stopped.
    private func failEverything(message: String) {
        let queued = shared.state.withLock { state -> [Submission] in
            state.stopped = true
            var queued: [Submission] = []
            for (id, entry) in state.entries {
                if case .queued(let submission) = entry { queued.append(submission) }
                state.entries[id] = nil
            }
            state.queuedIDs.removeAll()
            return queued
        }
        for submission in queued {
            submission.continuation.resume(returning: ProbeResponse(error: ProbeError(kind: .shutdown, message: message)))
        }
    }
}

import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Signal numbers the hub can handle: 1..<signalSlotCount (Linux has 64 signals; Darwin 31).
private let signalSlotCount = 65

/// Memory the C handler touches, created on first use (before any handler can point here) and never freed, so the
/// handler only reads initialised memory and never allocates or locks. Unchecked Sendable: the pointees only see
/// plain word-sized stores and loads (the C `volatile sig_atomic_t` idiom).
private struct HandlerMemory: @unchecked Sendable {
    /// Deliveries per signal number (what `SignalHub.count(of:)` reads).
    let counts: UnsafeMutablePointer<sig_atomic_t>
    /// Per signal number: 1 when a repeat of any such signal ends the process at once.
    let exitOnRepeat: UnsafeMutablePointer<sig_atomic_t>
    /// 1 once a signal of the immediate-exit group has been delivered.
    let exitGroupSeen: UnsafeMutablePointer<sig_atomic_t>
    /// The self-pipe, both ends non-blocking; one byte per delivery, the signal number. -1 when pipe() failed.
    let pipeReadEnd: Int32
    let pipeWriteEnd: Int32
    let pipeErrno: Int32

    static func make() -> HandlerMemory {
        func zeroed(_ count: Int) -> UnsafeMutablePointer<sig_atomic_t> {
            let memory = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: count)
            memory.initialize(repeating: 0, count: count)
            return memory
        }
        var ends: [Int32] = [-1, -1]
        let failure: Int32 = pipe(&ends) == 0 ? 0 : errno
        for fd in ends where fd >= 0 {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)  // a spawned child must not inherit the pipe
        }
        return HandlerMemory(counts: zeroed(signalSlotCount), exitOnRepeat: zeroed(signalSlotCount), exitGroupSeen: zeroed(1),
                             pipeReadEnd: ends[0], pipeWriteEnd: ends[1], pipeErrno: failure)
    }
}

/// Lazily initialised (thread-safe) by the hub before any `sigaction` points at `hubSignalHandler`.
private let handlerMemory = HandlerMemory.make()

/// The process-wide handler: only async-signal-safe work (plain stores, `write`, `_exit`).
private func hubSignalHandler(_ number: Int32) {
    guard number > 0, Int(number) < signalSlotCount else { return }
    let memory = handlerMemory
    let slot = Int(number)
    if memory.exitOnRepeat[slot] != 0 {
        if memory.exitGroupSeen.pointee != 0 { _exit(128 + number) }
        memory.exitGroupSeen.pointee = 1
    }
    // The kernel blocks this signal while its handler runs (no SA_NODEFER), so this increment cannot race itself.
    memory.counts[slot] &+= 1
    var byte = UInt8(truncatingIfNeeded: number)
    let savedErrno = errno  // the interrupted code may be about to read errno
    _ = write(memory.pipeWriteEnd, &byte, 1)  // a full pipe drops the wake-up, never the count
    errno = savedErrno
}

/// One subscriber's registration; `cancel()` (or `SignalHub.unsubscribe`) stops further calls.
public final class SignalSubscription: Sendable {
    let id: UInt64
    let signals: [Int32]
    private unowned let hub: SignalHub

    init(id: UInt64, signals: [Int32], hub: SignalHub) {
        self.id = id
        self.signals = signals
        self.hub = hub
    }

    /// Idempotent; a call already running finishes, no new one starts.
    public func cancel() { hub.unsubscribe(self) }
}

/// The one owner of the process's signal handlers, so that independent parts (TLS reload on SIGHUP, the trainer's
/// stop request, the server's shutdown) add subscribers instead of overwriting each other's `signal()` handler.
///
/// On Linux a Dispatch signal source only sees signals that are blocked in every thread (it reads a signalfd), which a
/// library cannot arrange, and ignoring the signal would discard it. So a plain C handler counts the delivery and
/// writes the signal number to a self-pipe; a Dispatch read source on the pipe calls the subscribers on an ordinary
/// queue. Once a signal has a handler it keeps it for the life of the process: a signal arriving after the last
/// subscriber left is counted and dropped rather than taking its default action (e.g. SIGHUP terminating).
public final class SignalHub: @unchecked Sendable {
    public static let shared = SignalHub()

    private struct Subscriber {
        let subscription: SignalSubscription
        let queue: DispatchQueue?
        let handler: @Sendable (Int32) -> Void
    }

    private let lock = NSLock()
    /// Per signal, in subscription order.
    private var subscribers: [Int32: [Subscriber]] = [:]
    private var installed: Set<Int32> = []
    private var nextID: UInt64 = 0
    private var readSource: DispatchSourceRead?
    /// Where handlers without their own queue run, in subscription order.
    private let deliveryQueue = DispatchQueue(label: "process.signal-hub")

    private init() {
        let readEnd = handlerMemory.pipeReadEnd
        guard readEnd >= 0 else {
            // Out of descriptors at start-up: counts still work, subscribers are never called; say so once.
            FileHandle.standardError.write(Data("signal hub: pipe() failed (\(String(cString: strerror(handlerMemory.pipeErrno)))); signal subscribers will not be called\n".utf8))
            return
        }
        let source = DispatchSource.makeReadSource(fileDescriptor: readEnd, queue: deliveryQueue)
        source.setEventHandler { [unowned self] in
            var bytes = [UInt8](repeating: 0, count: 256)
            var delivered: [Int32] = []
            while true {
                let n = read(readEnd, &bytes, bytes.count)
                if n <= 0 { break }
                delivered += bytes[0..<n].map { Int32($0) }
            }
            for number in delivered { deliver(number) }
        }
        source.activate()
        readSource = source
    }

    /// Calls `handler` (on `queue`, or on the hub's serial queue) for every delivery of any of `signals`. Several
    /// subscribers per signal are all called, in subscription order (ordering across different queues is up to them).
    /// `signals` must be catchable (not SIGKILL/SIGSTOP) and below 65: anything else is a programming error and traps.
    public func subscribe(_ signals: [Int32], queue: DispatchQueue? = nil,
                          _ handler: @escaping @Sendable (Int32) -> Void) -> SignalSubscription {
        lock.lock()
        defer { lock.unlock() }
        for number in signals { installLocked(number) }
        nextID += 1
        let subscription = SignalSubscription(id: nextID, signals: signals, hub: self)
        for number in Set(signals) {
            subscribers[number, default: []].append(Subscriber(subscription: subscription, queue: queue, handler: handler))
        }
        return subscription
    }

    public func unsubscribe(_ subscription: SignalSubscription) {
        lock.lock()
        defer { lock.unlock() }
        for number in subscription.signals { subscribers[number]?.removeAll { $0.subscription.id == subscription.id } }
    }

    /// Deliveries of `signal` since its handler was installed. Lock-free and safe to poll from any thread; the
    /// handler updates it before any subscriber runs. 0 for a signal the hub does not handle.
    @inline(never)  // a real load on every call, so a polling loop sees the handler's store
    public func count(of signal: Int32) -> Int {
        guard signal > 0, Int(signal) < signalSlotCount else { return 0 }
        return Int(handlerMemory.counts[Int(signal)])
    }

    /// The first delivery of any of `signals` is counted (and passed to subscribers) as usual; a second one, of any of
    /// them, ends the process at once from the handler with status 128 + signal, for a user whose graceful stop is
    /// taking too long (a second Ctrl-C).
    public func installImmediateExit(onRepeat signals: [Int32]) {
        lock.lock()
        defer { lock.unlock() }
        for number in signals {
            installLocked(number)
            handlerMemory.exitOnRepeat[Int(number)] = 1
        }
    }

    /// Called with `lock` held.
    private func installLocked(_ number: Int32) {
        precondition(number > 0 && Int(number) < signalSlotCount, "signal \(number) is outside 1..<\(signalSlotCount)")
        if installed.contains(number) { return }
        var action = sigaction()
        #if canImport(Glibc)
        action.__sigaction_handler.sa_handler = hubSignalHandler
        #else
        action.__sigaction_u.__sa_handler = hubSignalHandler
        #endif
        action.sa_flags = SA_RESTART  // interrupted blocking calls elsewhere in the process resume instead of failing
        sigemptyset(&action.sa_mask)
        // Fails only for an uncatchable or invalid signal, which no caller can handle at run time.
        let installedAction = sigaction(number, &action, nil) == 0
        precondition(installedAction, "sigaction(\(number)): \(String(cString: strerror(errno)))")
        installed.insert(number)
    }

    /// Runs on `deliveryQueue`.
    private func deliver(_ number: Int32) {
        lock.lock()
        let targets = subscribers[number] ?? []
        lock.unlock()
        for target in targets {
            guard let queue = target.queue else {
                if isSubscribed(target.subscription) { target.handler(number) }
                continue
            }
            // Checked again on the target queue: a cancel between here and there must still stop the call.
            queue.async { [self] in if isSubscribed(target.subscription) { target.handler(number) } }
        }
    }

    private func isSubscribed(_ subscription: SignalSubscription) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return subscription.signals.contains { number in
            subscribers[number]?.contains { $0.subscription.id == subscription.id } ?? false
        }
    }
}

import Dispatch
import Foundation
import HTTPCore
#if canImport(Glibc)
import Glibc
private let systemShutdown = Glibc.shutdown
#elseif canImport(Darwin)
import Darwin
private let systemShutdown = Darwin.shutdown
#endif

#if os(Linux)
/// glibc's `malloc_trim` (declared in <malloc.h>, which the Glibc module does not export).
@_silgen_name("malloc_trim") private func glibcMallocTrim(_ pad: Int) -> Int32
#endif

/// What the server counts about misbehaving peers (see `HTTPServer.counters`).
public struct HTTPServerCounters: Sendable, Equatable {
    /// Connections closed because their output made no progress for `timeouts.writeStall` (a peer that does not
    /// read, or an HTTP/2 window kept closed).
    public var writeStalls = 0
    /// HTTP/2 connections ended by a protocol error or an abuse limit (resets, refusals).
    public var protocolErrors = 0
    /// Requests refused before reaching the handler (HTTP/1.1 4xx, HTTP/2 431/413).
    public var refusals = 0
    public init() {}
}

/// A counted event, with the connection it happened on.
enum ServerEvent {
    case writeStall
    case protocolError
    case refusals(Int)
}

/// HTTP/1.1 + HTTP/2 server on Dispatch. Each connection runs on its own serial queue and hands complete requests to
/// `handler`, which may answer at once or later from any thread.
///
///     let server = try HTTPServer(config: config, handler: router)
///     let port = try server.start()
///     ...
///     await server.shutdown(gracePeriod: .seconds(10))
///
/// Thread-safety: the mutable registry below is guarded by `lock`; everything else is immutable.
public final class HTTPServer: @unchecked Sendable {
    public let config: HTTPServerConfig
    let handler: any HTTPHandler
    let accessLog: AccessLogWriter
    private let dateCache = HTTPDateCache()
    private let acceptQueue = DispatchQueue(label: "http.accept", qos: .userInitiated)
    /// One serial queue per core that connection queues target: events for many connections are drained by one
    /// thread in turn (like an event loop) instead of waking a thread per event.
    let loops: [DispatchQueue] = (0..<max(1, ProcessInfo.processInfo.activeProcessorCount)).map {
        DispatchQueue(label: "http.loop.\($0)", qos: .userInitiated)
    }

    private let lock = NSLock()
    private var connections: [Int: Connection] = [:]
    private var nextConnectionID = 1
    private var tlsContext: TLSContext?
    private var draining = false
    private var shutdownWaiters: [@Sendable () -> Void] = []
    private var rejected = 0
    private var eventCounts = HTTPServerCounters()
    private var trimScheduled = false
    private let eventLog: AccessLogWriter
    /// One read buffer per loop, shared by the connections on it (see `Connection.readBuffer`).
    let readBuffers: [UnsafeMutableRawBufferPointer]
    private var listenFD: Int32 = -1
    private var boundPort: UInt16 = 0
    private var listenSource: DispatchSourceRead?

    /// Loads the TLS files (if configured) so a bad certificate fails here, before anything listens.
    public init(config: HTTPServerConfig = HTTPServerConfig(), handler: any HTTPHandler) throws(HTTPServerError) {
        self.config = config
        self.handler = handler
        accessLog = AccessLogWriter(config.accessLog)
        eventLog = AccessLogWriter(config.eventLog)
        readBuffers = loops.map { _ in .allocate(byteCount: 64 * 1024, alignment: 16) }
        if let files = config.tls { tlsContext = try TLSContext(files) }
    }

    deinit { for buffer in readBuffers { buffer.deallocate() } }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// The bound port (useful with `config.port == 0`).
    public var port: UInt16 { locked { boundPort } }
    public var openConnections: Int { locked { connections.count } }
    /// Connections closed at once because `maxConnections` was reached or the server was shutting down.
    public var rejectedConnections: Int { locked { rejected } }
    var isDraining: Bool { locked { draining } }
    /// Counts of misbehaving-peer events since start.
    public var counters: HTTPServerCounters { locked { eventCounts } }

    /// Counts an event and logs it (refusals are only counted: the response already told the client).
    func record(_ event: ServerEvent, connection: Connection, _ message: String?) {
        locked {
            switch event {
            case .writeStall: eventCounts.writeStalls += 1
            case .protocolError: eventCounts.protocolErrors += 1
            case .refusals(let n): eventCounts.refusals += n
            }
        }
        if let message { eventLog.write("http: connection \(connection.id) from \(connection.remoteAddress): \(message)") }
    }
    var currentTLSContext: TLSContext? { locked { tlsContext } }

    /// Binds and starts accepting; returns the bound port.
    @discardableResult
    public func start() throws(HTTPServerError) -> UInt16 {
        if locked({ listenFD >= 0 }) { throw .alreadyStarted }
        let (fd, port) = try Socket.listen(host: config.host, port: config.port, backlog: config.backlog)
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: acceptQueue)
        source.setEventHandler { [self] in acceptPending(fd) }
        source.setCancelHandler { Socket.closeDescriptor(fd) }
        locked {
            listenFD = fd
            boundPort = port
            listenSource = source
        }
        source.activate()
        if config.tls != nil && config.reloadCertificatesOnSIGHUP { ReloadSignal.shared.register(self) }
        return port
    }

    private func acceptPending(_ listener: Int32) {
        for _ in 0..<128 {
            guard let (fd, remote) = Socket.accept(listener) else { return }
            Socket.setNonBlocking(fd)
            Socket.setNoDelay(fd)
            let admitted: (Int, TLSContext?)? = locked {
                if draining || connections.count >= config.maxConnections {
                    rejected += 1
                    return nil
                }
                nextConnectionID += 1
                return (nextConnectionID, tlsContext)
            }
            guard let (id, tls) = admitted else {
                Socket.closeDescriptor(fd)
                continue
            }
            let connection = Connection(id: id, fd: fd, remoteAddress: remote, server: self, tlsContext: tls)
            locked { connections[id] = connection }
            connection.start()
        }
    }

    func makeEngine(alpn: String?) -> ConnectionEngine {
        let dates = dateCache
        return ConnectionEngine(limits: config.limits, alpn: alpn, date: { dates.current() },
                                clock: { DispatchTime.now().uptimeNanoseconds })
    }

    func connectionClosed(_ connection: Connection) {
        let trim: Bool = locked {
            defer { trimScheduled = true }
            return !trimScheduled
        }
        if trim { scheduleTrim() }
        let waiters: [@Sendable () -> Void] = locked {
            connections[connection.id] = nil
            guard draining && connections.isEmpty else { return [] }
            defer { shutdownWaiters.removeAll() }
            return shutdownWaiters
        }
        for waiter in waiters { waiter() }
    }

    /// Hands freed memory back to the OS a second after connections close (at most once a second): glibc keeps what
    /// a burst of connections freed in its per-thread arenas, so without this RSS only ever grows with the largest
    /// burst seen.
    private func scheduleTrim() {
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + .seconds(1)) { [weak self] in
            self?.locked { self?.trimScheduled = false }
            #if os(Linux)
            _ = glibcMallocTrim(0)
            #endif
        }
    }

    /// Re-reads the certificate and key; new connections use them, open ones keep theirs. On error the old
    /// certificate stays in use.
    public func reloadCertificates() throws(HTTPServerError) {
        guard let files = config.tls else { return }
        let fresh = try TLSContext(files)
        locked { tlsContext = fresh }
    }

    /// Stops accepting, lets in-flight requests finish (HTTP/1.1 closes after the current response, HTTP/2 sends
    /// GOAWAY with the last processed stream), force-closes whatever is left after `gracePeriod`, then calls
    /// `completion` once every connection is gone.
    public func shutdown(gracePeriod: Duration = .seconds(10), completion: @escaping @Sendable () -> Void) {
        let (snapshot, source, fd, doneNow): ([Connection], DispatchSourceRead?, Int32, Bool) = locked {
            draining = true
            shutdownWaiters.append(completion)
            defer { listenSource = nil }
            return (Array(connections.values), listenSource, listenFD, connections.isEmpty)
        }
        // Refuse new connections before returning: the cancel handler that closes the descriptor runs later on the
        // source's queue, and until then the kernel would still complete handshakes into the backlog.
        if source != nil && fd >= 0 { _ = systemShutdown(fd, Int32(SHUT_RDWR)) }
        source?.cancel()
        ReloadSignal.shared.unregister(self)
        if doneNow {
            let waiters = locked { () -> [@Sendable () -> Void] in
                defer { shutdownWaiters.removeAll() }
                return shutdownWaiters
            }
            for waiter in waiters { waiter() }
            return
        }
        for connection in snapshot { connection.beginShutdown() }
        let nanos = Int(DeadlineTracker.nanos(gracePeriod))
        acceptQueue.asyncAfter(deadline: .now() + .nanoseconds(nanos)) { [self] in
            for connection in locked({ Array(connections.values) }) {
                connection.queue.async { connection.close() }
            }
        }
    }

    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            shutdown(gracePeriod: gracePeriod) { continuation.resume() }
        }
    }
}

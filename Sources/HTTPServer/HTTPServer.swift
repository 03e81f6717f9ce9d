import Dispatch
import Foundation
import HTTPCore

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
    private var listenFD: Int32 = -1
    private var boundPort: UInt16 = 0
    private var listenSource: DispatchSourceRead?

    /// Loads the TLS files (if configured) so a bad certificate fails here, before anything listens.
    public init(config: HTTPServerConfig = HTTPServerConfig(), handler: any HTTPHandler) throws(HTTPServerError) {
        self.config = config
        self.handler = handler
        accessLog = AccessLogWriter(config.accessLog)
        if let files = config.tls { tlsContext = try TLSContext(files) }
    }

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
        return ConnectionEngine(limits: config.limits, alpn: alpn, date: { dates.current() })
    }

    func connectionClosed(_ connection: Connection) {
        let waiters: [@Sendable () -> Void] = locked {
            connections[connection.id] = nil
            guard draining && connections.isEmpty else { return [] }
            defer { shutdownWaiters.removeAll() }
            return shutdownWaiters
        }
        for waiter in waiters { waiter() }
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
        if source != nil && fd >= 0 { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
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

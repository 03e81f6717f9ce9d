import Dispatch
import Foundation
import HTTPCore

/// One accepted socket. All mutable state is confined to `queue` (a serial queue per connection): Dispatch sources,
/// the timer and responder hops all run there, which is why `@unchecked Sendable` is sound. Bytes flow
/// socket -> (TLS) -> ConnectionEngine -> handler, and back the same way.
final class Connection: @unchecked Sendable {
    /// Marks a connection's queue so a responder called on it applies the answer directly instead of re-queueing.
    static let queueKey = DispatchSpecificKey<Int>()

    let id: Int
    let fd: Int32
    let remoteAddress: String
    let queue: DispatchQueue
    private let server: HTTPServer  // released when the connection closes (the server's registry drops it)
    private let config: HTTPServerConfig

    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private let timer: DispatchSourceTimer
    private var readPaused = false
    private var writeArmed = false
    private var timerArmedAt: UInt64?
    private var pendingCancels = 0

    private var engine: ConnectionEngine?
    private var tls: TLSSession?
    private var outbound: [UInt8] = []
    private var outboundOffset = 0
    private var plaintext: [UInt8] = []
    /// Shared by every connection on this connection's loop (their queues run one at a time on it), so an idle
    /// connection costs no 64 KiB buffer of its own.
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var deadlines: DeadlineTracker
    private var inputClosed = false
    private var dispatching = false
    private var lingerUntil: UInt64?
    private var requestIDs = RequestIDGenerator()
    private(set) var closed = false

    init(id: Int, fd: Int32, remoteAddress: String, server: HTTPServer, tlsContext: TLSContext?) {
        self.id = id
        self.fd = fd
        self.remoteAddress = remoteAddress
        self.server = server
        self.config = server.config
        queue = DispatchQueue(label: "http.connection", target: server.loops[id % server.loops.count])
        queue.setSpecific(key: Connection.queueKey, value: id)
        timer = DispatchSource.makeTimerSource(queue: queue)
        timer.activate()  // inactive sources must not be released, and close() may come before start()
        readBuffer = server.readBuffers[id % server.loops.count]
        deadlines = DeadlineTracker(timeouts: config.timeouts, now: Connection.now())
        if let tlsContext {
            tls = try? TLSSession(tlsContext)
        } else {
            engine = server.makeEngine(alpn: nil)
        }
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Starts reading; called once after the connection is registered.
    func start() {
        queue.async { [self] in
            guard !closed else { return }
            if config.tls != nil && tls == nil {  // SSL_new failed
                close()
                return
            }
            let read = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            let write = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
            read.setEventHandler { [self] in onReadable() }
            write.setEventHandler { [self] in flush() }
            for source in [read, write] as [any DispatchSourceProtocol] {
                source.setCancelHandler { [self] in
                    pendingCancels -= 1
                    if pendingCancels == 0 { Socket.closeDescriptor(fd) }
                }
            }
            readSource = read
            writeSource = write
            timer.setEventHandler { [self] in onTimer() }
            read.activate()
            write.activate()
            write.suspend()  // armed only while output is blocked
            deadlines.update(phase: tls == nil ? .idle : .readingRequest, now: Connection.now())
            armTimer()
        }
    }

    // MARK: Input

    private func onReadable() {
        guard !closed else { return }
        var total = 0
        while total < 256 * 1024 {
            let n = read(fd, readBuffer.baseAddress, readBuffer.count)
            if n > 0 {
                total += n
                if lingerUntil == nil { ingest(UnsafeRawBufferPointer(rebasing: readBuffer[0..<n])) }
                if closed || readPaused || n < readBuffer.count { break }
            } else if n == 0 {
                peerFinishedSending()
                break
            } else {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { close() }
                break
            }
        }
        afterActivity()
    }

    private func ingest(_ bytes: UnsafeRawBufferPointer) {
        if let tls {
            plaintext.removeAll(keepingCapacity: true)
            do {
                if try tls.feed(bytes, plaintext: &plaintext) {
                    engine = server.makeEngine(alpn: tls.alpn)
                    if server.isDraining { engine?.beginGracefulShutdown() }
                }
            } catch {
                close()
                return
            }
            if tls.peerClosed { inputClosed = true }
            if let engine, !plaintext.isEmpty { plaintext.withUnsafeBytes { engine.receive($0) } }
            if inputClosed { engine?.receiveEnd() }
        } else {
            engine?.receive(bytes)
        }
        dispatchRequests()
        flush()
    }

    private func peerFinishedSending() {
        inputClosed = true
        if lingerUntil != nil || engine == nil {
            close()
            return
        }
        engine?.receiveEnd()
        dispatchRequests()
        flush()
    }

    /// Hands every parsed request to the handler; returns whether there were any. Answers given synchronously are
    /// applied right away; the single flush afterwards batches them into as few writes as possible.
    @discardableResult
    private func dispatchRequests() -> Bool {
        guard let engine, !dispatching else { return false }
        dispatching = true
        defer { dispatching = false }
        var any = false
        while true {
            let batch = engine.takeRequests()
            if batch.isEmpty || closed { return any }
            any = true
            for (streamID, request) in batch { start(streamID, request) }
        }
    }

    private func start(_ streamID: Int64, _ request: HTTPRequest) {
        var request = request
        request.requestID = RequestID.resolve(request.headers) { requestIDs.next() }
        request.remoteAddress = remoteAddress
        let exchange = Exchange(streamID: streamID, request: request, logging: server.accessLog.isEnabled)
        let responder = HTTPResponder { [self] part in
            if DispatchQueue.getSpecific(key: Connection.queueKey) == id {
                apply(part, exchange)
                if !dispatching {
                    flush()
                    afterActivity()
                }
            } else {
                queue.async { [self] in
                    apply(part, exchange)
                    flush()
                    afterActivity()
                }
            }
        }
        server.handler.handle(request, responder: responder)
    }

    private func apply(_ part: ResponsePart, _ exchange: Exchange) {
        guard !closed, let engine else { return }
        var part = part
        switch part {
        case .complete(var response):
            response.headers.set("x-request-id", exchange.requestID)
            exchange.status = response.status
            exchange.bytes = response.body.count
            part = .complete(response)
        case .head(var head):
            head.headers.set("x-request-id", exchange.requestID)
            exchange.status = head.status
            part = .head(head)
        case .body(let bytes):
            exchange.bytes += bytes.count
        case .end:
            break
        }
        engine.send(part, for: exchange.streamID)
        switch part {
        case .complete, .end:
            if let entry = exchange.finish(remoteAddress: remoteAddress) { server.accessLog.write(entry.line) }
        case .head, .body:
            break
        }
    }

    // MARK: Output

    /// Pulls output from the engine (bounded by the high-water mark), writes what the socket takes, and closes the
    /// connection once the engine is finished and everything is written.
    func flush() {
        // Taking output can release the next pipelined HTTP/1.1 request (the engine holds it back while output
        // piles up), so pull, write and dispatch until nothing new happens.
        var rounds = 0
        repeat {
            guard !closed else { return }
            pullOutput()
            writeOut()
            rounds += 1
        } while !closed && rounds < 64 && dispatchRequests()
        if !closed && outboundOffset == outbound.count && engine?.isFinished == true { finishWriting() }
    }

    private func pullOutput() {
        if let engine, outbound.count - outboundOffset < config.writeBufferHighWater {
            if let tls {
                plaintext.removeAll(keepingCapacity: true)
                engine.takeOutput(into: &plaintext, limit: config.writeBufferHighWater)
                do { try tls.write(plaintext) } catch { close(); return }
            } else {
                engine.takeOutput(into: &outbound, limit: config.writeBufferHighWater)
            }
        }
        if let tls {
            if engine?.isFinished == true && !tls.peerClosed { tls.shutdown() }
            tls.drainCiphertext(into: &outbound)
        }
    }

    private func writeOut() {
        var progressed = false
        while outboundOffset < outbound.count {
            let n = outbound.withUnsafeBytes {
                send(fd, $0.baseAddress! + outboundOffset, $0.count - outboundOffset, Socket.sendFlags)
            }
            if n > 0 {
                outboundOffset += n
                progressed = true
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                break
            } else {
                close()
                return
            }
        }
        let pending = outboundOffset < outbound.count
        if !pending {
            outbound.removeAll(keepingCapacity: outbound.capacity <= 1 << 20)
            outboundOffset = 0
        } else if outboundOffset > 64 * 1024 && outboundOffset * 2 > outbound.count {
            outbound.removeSubrange(0..<outboundOffset)
            outboundOffset = 0
        }
        setWriteArmed(pending)
        deadlines.output(socketPending: pending, socketProgressed: progressed, flowBlocked: engine?.outputBlocked ?? false,
                         bodyBytesSent: engine?.bodyBytesSent ?? 0, now: Connection.now())
    }

    /// Everything is written and the engine is done: stop sending, drain what the client still sends for a moment,
    /// then close (closing with unread input would make the kernel reset the connection and lose the response).
    private func finishWriting() {
        guard lingerUntil == nil else { return }
        if inputClosed {
            close()
            return
        }
        shutdown(fd, Int32(SHUT_WR))
        lingerUntil = Connection.now() &+ DeadlineTracker.nanos(config.lingerTime)
        armTimer()
    }

    // MARK: Flow control and timers

    private func afterActivity() {
        guard !closed else { return }
        let wantsRead = lingerUntil != nil
            || (!inputClosed && (engine?.wantsInput ?? true) && outbound.count - outboundOffset < config.writeBufferHighWater)
        setReadPaused(!wantsRead || inputClosed)
        deadlines.update(phase: engine?.phase ?? .readingRequest, now: Connection.now())
        armTimer()
    }

    private func setReadPaused(_ paused: Bool) {
        guard paused != readPaused, let readSource else { return }
        readPaused = paused
        if paused { readSource.suspend() } else { readSource.resume() }
    }

    private func setWriteArmed(_ armed: Bool) {
        guard armed != writeArmed, let writeSource else { return }
        writeArmed = armed
        if armed { writeSource.resume() } else { writeSource.suspend() }
    }

    private func armTimer() {
        guard !closed else { return }
        var next = deadlines.next?.at
        if let lingerUntil { next = min(next ?? lingerUntil, lingerUntil) }
        guard let at = next else { return }
        // Deadlines mostly move later; the timer is only re-armed when one moves earlier, and a firing that finds
        // nothing expired simply re-arms for the current deadline.
        if let armed = timerArmedAt, armed <= at { return }
        timerArmedAt = at
        timer.schedule(deadline: DispatchTime(uptimeNanoseconds: at), leeway: .milliseconds(10))
    }

    private func onTimer() {
        timerArmedAt = nil
        guard !closed else { return }
        let now = Connection.now()
        if let lingerUntil, now >= lingerUntil {
            close()
            return
        }
        switch deadlines.expired(now: now) {
        case .writeStall?:
            let why = engine?.outputBlocked == true ? "flow-control window kept closed" : "peer not reading"
            server.record(.writeStall, connection: self, "closed: output made no progress for \(config.timeouts.writeStall) (\(why))")
            close()
            return
        case .idle?, .requestRead?:
            guard let engine else {
                close()  // TLS handshake never completed
                return
            }
            engine.timedOut()
            flush()
        case nil:
            break
        }
        afterActivity()
    }

    /// Graceful shutdown: finish in-flight requests, then close.
    func beginShutdown() {
        queue.async { [self] in
            guard !closed else { return }
            guard let engine else {
                close()
                return
            }
            engine.beginGracefulShutdown()
            flush()
            afterActivity()
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        if let engine {
            if let failure = engine.failure { server.record(.protocolError, connection: self, failure) }
            if engine.refusals > 0 { server.record(.refusals(engine.refusals), connection: self, nil) }
        }
        timer.cancel()
        if let readSource, let writeSource {
            pendingCancels = 2
            if readPaused { readSource.resume() }
            if !writeArmed { writeSource.resume() }
            readSource.cancel()
            writeSource.cancel()
        } else {
            Socket.closeDescriptor(fd)
        }
        engine = nil
        tls = nil
        server.connectionClosed(self)
    }
}

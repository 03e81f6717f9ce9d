/// The protocol a connection ended up speaking.
public enum WireProtocol: String, Sendable, Equatable {
    case http1 = "http/1.1"
    case http2 = "h2"
}

/// One server connection's protocol logic, without I/O: picks HTTP/2 or HTTP/1.1 (from ALPN, or from the first bytes
/// on cleartext: the HTTP/2 client preface means prior-knowledge h2c), then forwards everything to that engine.
/// Confined to the connection's serial queue.
public final class ConnectionEngine {
    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private enum Mode {
        case detecting([UInt8])
        case http1(HTTP1Engine)
        case http2(HTTP2Session)
    }

    private var mode: Mode
    private let limits: HTTPLimits
    private let date: () -> String
    private let clock: () -> UInt64
    private var pendingShutdown = false
    private var inputEnded = false

    /// `alpn` is the protocol TLS negotiated, if any; without it the first bytes decide.
    /// `clock` (monotonic nanoseconds) drives the HTTP/2 reset rate limit.
    public init(limits: HTTPLimits = HTTPLimits(), alpn: String? = nil, date: @escaping () -> String,
                clock: @escaping () -> UInt64 = monotonicNanos) {
        self.limits = limits
        self.date = date
        self.clock = clock
        switch alpn {
        case "h2": mode = .http2(HTTP2Session(limits: limits, date: date, clock: clock))
        case "http/1.1": mode = .http1(HTTP1Engine(limits: limits, date: date))
        default: mode = .detecting([])
        }
    }

    public var wireProtocol: WireProtocol? {
        switch mode {
        case .detecting: nil
        case .http1: .http1
        case .http2: .http2
        }
    }

    public func receive(_ bytes: UnsafeRawBufferPointer) {
        switch mode {
        case .http1(let engine): engine.receive(bytes)
        case .http2(let session): session.receive(bytes)
        case .detecting(var seen):
            seen.append(contentsOf: bytes)
            let n = min(seen.count, Self.preface.count)
            if seen[0..<n].elementsEqual(Self.preface[0..<n]) {
                if n < Self.preface.count {
                    mode = .detecting(seen)
                    return
                }
                let session = HTTP2Session(limits: limits, date: date, clock: clock)
                mode = .http2(session)
            } else {
                mode = .http1(HTTP1Engine(limits: limits, date: date))
            }
            if pendingShutdown { beginGracefulShutdown() }
            seen.withUnsafeBytes { receive($0) }
        }
    }

    public func receive(_ bytes: [UInt8]) { bytes.withUnsafeBytes { receive($0) } }

    public func receiveEnd() {
        inputEnded = true
        switch mode {
        case .http1(let engine): engine.receiveEnd()
        case .http2(let session): session.receiveEnd()
        case .detecting: break
        }
    }

    public func takeRequests() -> [(id: Int64, request: HTTPRequest)] {
        switch mode {
        case .http1(let engine): engine.takeRequests()
        case .http2(let session): session.takeRequests()
        case .detecting: []
        }
    }

    public func send(_ part: ResponsePart, for id: Int64) {
        switch mode {
        case .http1(let engine): engine.send(part, for: id)
        case .http2(let session): session.send(part, for: id)
        case .detecting: break
        }
    }

    /// Appends output for the peer to `sink`; HTTP/2 stops pulling frames once `sink` reaches `limit` bytes so a slow
    /// reader holds back nghttp2 instead of growing the buffer.
    public func takeOutput(into sink: inout [UInt8], limit: Int = 256 * 1024) {
        switch mode {
        case .http1(let engine): engine.takeOutput(into: &sink)
        case .http2(let session): session.takeOutput(into: &sink, limit: limit)
        case .detecting: break
        }
    }

    /// Close the connection once pending output is written.
    public var isFinished: Bool {
        switch mode {
        case .http1(let engine): engine.closeAfterOutput && !engine.hasOutput
        case .http2(let session): session.isFinished
        case .detecting: inputEnded || pendingShutdown
        }
    }

    public var wantsInput: Bool {
        switch mode {
        case .http1(let engine): engine.wantsInput
        case .http2(let session): session.wantsInput
        case .detecting: !pendingShutdown && !inputEnded
        }
    }

    public var phase: ConnectionPhase {
        switch mode {
        case .http1(let engine): engine.phase
        case .http2(let session): session.phase
        case .detecting(let seen): pendingShutdown ? .closing : (seen.isEmpty ? .idle : .readingRequest)
        }
    }

    public func beginGracefulShutdown() {
        pendingShutdown = true
        switch mode {
        case .http1(let engine): engine.beginGracefulShutdown()
        case .http2(let session): session.beginGracefulShutdown()
        case .detecting: break
        }
    }

    public func timedOut() {
        switch mode {
        case .http1(let engine): engine.timedOut()
        case .http2(let session): session.timedOut()
        case .detecting: pendingShutdown = true
        }
    }

    /// Why the protocol engine gave up on the connection (HTTP/2 protocol error or abuse limit), if it did.
    public var failure: String? {
        if case .http2(let session) = mode { return session.failure }
        return nil
    }

    /// Response data waits behind an HTTP/2 flow-control window the peer keeps closed.
    public var outputBlocked: Bool {
        if case .http2(let session) = mode { return session.outputBlocked }
        return false
    }

    /// Response body bytes released so far (HTTP/2; 0 for HTTP/1.1, whose output is all socket-bound).
    public var bodyBytesSent: UInt64 {
        if case .http2(let session) = mode { return session.bodyBytesSent }
        return 0
    }

    /// Requests the engine refused itself (an HTTP/1.1 4xx before the handler, HTTP/2 431/413).
    public var refusals: Int {
        switch mode {
        case .http1(let engine): engine.refusals
        case .http2(let session): session.refusals
        case .detecting: 0
        }
    }
}

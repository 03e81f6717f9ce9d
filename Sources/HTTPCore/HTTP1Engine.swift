/// What a connection is doing, for choosing its timeout.
public enum ConnectionPhase: Equatable, Sendable {
    /// Waiting for the next request (keep-alive).
    case idle
    /// Part of a request (or the TLS handshake / protocol preface) has arrived; the rest must come in time.
    case readingRequest
    /// A handler owns at least one request; no read deadline applies.
    case handling
    /// The engine wants the connection closed once its output is written.
    case closing
}

/// HTTP/1.1 server connection: bytes in, requests out; responses in, bytes out. Requests are answered strictly in
/// order; pipelined requests wait in the input buffer until the response before them is complete.
public final class HTTP1Engine {
    private struct InFlight {
        let id: Int64
        let version: HTTPVersion
        let isHead: Bool
        var keepAlive: Bool
        var started = false
        var chunked = false
        /// Body bytes are suppressed (HEAD, 204, 304).
        var bodyless = false
    }

    let limits: HTTPLimits
    private let date: () -> String
    private let outputHighWater: Int
    /// A finished response left `outputHighWater` bytes unsent: the next pipelined request waits for `takeOutput`.
    private var parkedForOutput = false
    private var parser: HTTP1RequestParser
    private var inbound: [UInt8] = []
    private var position = 0
    private var currentHead: HTTP1RequestHead?
    private var inFlight: InFlight?
    private var nextID: Int64 = 1
    private var ready: [(Int64, HTTPRequest)] = []
    private var output: [UInt8] = []
    private var inputEnded = false
    private var draining = false
    /// No further input is processed; the connection closes when `output` is written.
    public private(set) var closeAfterOutput = false
    /// Requests refused before reaching the handler (at most one: a refusal closes the connection).
    public private(set) var refusals = 0

    /// `date` returns the value of the `date` header (cached by the caller; injected so tests are deterministic).
    /// Pipelined requests are released to the handler only while less than `outputHighWater` bytes of output wait,
    /// so a client that pipelines requests without reading cannot make the server buffer every response.
    public init(limits: HTTPLimits = HTTPLimits(), outputHighWater: Int = 256 * 1024, date: @escaping () -> String) {
        self.limits = limits
        self.date = date
        self.outputHighWater = outputHighWater
        self.parser = HTTP1RequestParser(limits: limits)
        output.reserveCapacity(4096)
    }

    // MARK: Input

    public func receive(_ bytes: UnsafeRawBufferPointer) {
        guard !closeAfterOutput else { return }
        inbound.append(contentsOf: bytes)
        advance()
    }

    public func receive(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { receive($0) }
    }

    /// The peer shut down its sending side: finish what is complete, then close.
    public func receiveEnd() {
        inputEnded = true
        if inFlight == nil { advance() }
    }

    /// Requests parsed since the last call, in arrival order (at most one is outstanding at a time).
    public func takeRequests() -> [(id: Int64, request: HTTPRequest)] {
        defer { ready.removeAll(keepingCapacity: true) }
        return ready.map { (id: $0.0, request: $0.1) }
    }

    /// Appends the bytes ready for the peer to `sink`.
    public func takeOutput(into sink: inout [UInt8]) {
        if sink.isEmpty {
            swap(&sink, &output)
        } else {
            sink.append(contentsOf: output)
            output.removeAll(keepingCapacity: true)
        }
        if parkedForOutput {
            parkedForOutput = false
            advance()
        }
    }

    public var hasOutput: Bool { !output.isEmpty }

    /// False while pipelined input is piling up behind an unanswered request (the socket layer stops reading).
    public var wantsInput: Bool { !closeAfterOutput && inbound.count - position < limits.maxBufferedInputBytes }

    public var phase: ConnectionPhase {
        if closeAfterOutput { return .closing }
        if inFlight != nil || parkedForOutput { return .handling }
        if currentHead != nil || position < inbound.count { return .readingRequest }
        return .idle
    }

    /// Stop after the current response (or now, if idle).
    public func beginGracefulShutdown() {
        draining = true
        if inFlight == nil && currentHead == nil && position == inbound.count { closeAfterOutput = true }
    }

    /// The read deadline passed: answer 408 if a request was partly received, then close.
    public func timedOut() {
        guard !closeAfterOutput else { return }
        if inFlight == nil && (currentHead != nil || position < inbound.count) {
            writeError(.timeout)
        }
        closeAfterOutput = true
    }

    private func advance() {
        while inFlight == nil && !closeAfterOutput {
            let progress: HTTP1RequestParser.Progress
            do {
                progress = try parser.advance(inbound, &position)
            } catch {
                writeError(error)
                break
            }
            switch progress {
            case .needMore:
                if inputEnded { closeAfterOutput = true }
                compact()
                return
            case .head(let head):
                currentHead = head
                if head.expectsContinue && position == inbound.count {
                    output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
                }
            case .complete(let body):
                guard let head = currentHead else { continue }
                currentHead = nil
                let request = HTTPRequest(method: head.method, target: head.target, version: head.version,
                                          headers: head.headers, body: body, authority: head.headers["host"])
                let id = nextID
                nextID &+= 1
                inFlight = InFlight(id: id, version: head.version, isHead: head.method == "HEAD",
                                    keepAlive: head.keepAlive && !draining)
                ready.append((id, request))
            }
        }
        compact()
    }

    /// Drops consumed input once it dominates the buffer, keeping appends amortised O(1).
    private func compact() {
        if position == inbound.count {
            inbound.removeAll(keepingCapacity: inbound.capacity <= 64 * 1024)
            position = 0
        } else if position > 4096 && position * 2 > inbound.count {
            inbound.removeSubrange(0..<position)
            position = 0
        }
    }

    private func writeError(_ error: HTTP1RequestError) {
        if error != .timeout { refusals += 1 }
        var headers: HTTPHeaders = ["content-type": "text/plain; charset=utf-8"]
        headers.add("connection", "close")
        let body = Array((error.message + "\n").utf8)
        writeHead(status: error.status, headers: headers, contentLength: body.count)
        output.append(contentsOf: body)
        currentHead = nil
        closeAfterOutput = true
    }

    // MARK: Output

    /// Applies one part of the response to request `id`. Parts for an unknown or finished request are ignored (the
    /// connection may have been closed or the request already answered).
    public func send(_ part: ResponsePart, for id: Int64) {
        guard var flight = inFlight, flight.id == id, !closeAfterOutput || flight.started else { return }
        if draining { flight.keepAlive = false }
        switch part {
        case .complete(let response):
            guard !flight.started else { return }
            if response.headers.hasToken("close", in: "connection") { flight.keepAlive = false }
            var headers = response.headers
            headers.remove("content-length")
            headers.remove("transfer-encoding")
            headers.remove("connection")
            let bodyless = flight.isHead || statusForbidsBody(response.status)
            writeHead(status: response.status, headers: withConnection(headers, flight),
                      contentLength: statusForbidsBody(response.status) ? nil : response.body.count)
            if !bodyless { output.append(contentsOf: response.body) }
            inFlight = flight
            finishResponse()
        case .head(let head):
            guard !flight.started else { return }
            flight.started = true
            if head.headers.hasToken("close", in: "connection") { flight.keepAlive = false }
            var headers = head.headers
            headers.remove("transfer-encoding")
            headers.remove("connection")
            flight.bodyless = flight.isHead || statusForbidsBody(head.status)
            if !flight.bodyless && !headers.contains("content-length") {
                if flight.version == .http1_1 {
                    flight.chunked = true
                    headers.add("transfer-encoding", "chunked")
                } else {
                    flight.keepAlive = false  // HTTP/1.0 without a length: the body ends when the connection does
                }
            }
            writeHead(status: head.status, headers: withConnection(headers, flight), contentLength: nil)
            inFlight = flight
        case .body(let bytes):
            guard flight.started, !flight.bodyless, !bytes.isEmpty else { return }
            if flight.chunked {
                output.append(contentsOf: String(bytes.count, radix: 16).utf8)
                output.append(contentsOf: [13, 10])
                output.append(contentsOf: bytes)
                output.append(contentsOf: [13, 10])
            } else {
                output.append(contentsOf: bytes)
            }
        case .end:
            guard flight.started else { return }
            if flight.chunked { output.append(contentsOf: "0\r\n\r\n".utf8) }
            finishResponse()
        }
    }

    private func withConnection(_ headers: HTTPHeaders, _ flight: InFlight) -> HTTPHeaders {
        var headers = headers
        if !flight.keepAlive {
            headers.add("connection", "close")
        } else if flight.version == .http1_0 {
            headers.add("connection", "keep-alive")
        }
        return headers
    }

    private func finishResponse() {
        guard let flight = inFlight else { return }
        inFlight = nil
        if !flight.keepAlive || draining {
            closeAfterOutput = true
        } else if output.count >= outputHighWater {
            parkedForOutput = true
        } else {
            advance()
        }
    }

    private func writeHead(status: Int, headers: HTTPHeaders, contentLength: Int?) {
        output.append(contentsOf: "HTTP/1.1 \(status) \(HTTPStatus.reason(status))\r\n".utf8)
        var hasDate = false
        for (name, value) in headers {
            if name == "date" { hasDate = true }
            output.append(contentsOf: name.utf8)
            output.append(contentsOf: [58, 32])
            output.append(contentsOf: value.utf8)
            output.append(contentsOf: [13, 10])
        }
        if let contentLength {
            output.append(contentsOf: "content-length: \(contentLength)\r\n".utf8)
        }
        if !hasDate {
            output.append(contentsOf: "date: ".utf8)
            output.append(contentsOf: date().utf8)
            output.append(contentsOf: [13, 10])
        }
        output.append(contentsOf: [13, 10])
    }
}

import Foundation

/// Receives complete requests. `handle` runs on the connection's queue and must not block it; it may answer at once or
/// keep `responder` and answer later from any thread (the recommendation batcher answers that way).
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest, responder: HTTPResponder)
}

/// A handler written as a closure.
public struct ClosureHandler: HTTPHandler {
    let body: @Sendable (HTTPRequest, HTTPResponder) -> Void
    public init(_ body: @escaping @Sendable (HTTPRequest, HTTPResponder) -> Void) { self.body = body }
    public func handle(_ request: HTTPRequest, responder: HTTPResponder) { body(request, responder) }
}

/// A handler that computes its response synchronously.
public struct SyncHandler: HTTPHandler {
    let body: @Sendable (HTTPRequest) -> HTTPResponse
    public init(_ body: @escaping @Sendable (HTTPRequest) -> HTTPResponse) { self.body = body }
    public func handle(_ request: HTTPRequest, responder: HTTPResponder) { responder.respond(body(request)) }
}

/// A handler written as an async function; each request runs in its own task.
public struct AsyncHandler: HTTPHandler {
    let body: @Sendable (HTTPRequest) async -> HTTPResponse
    public init(_ body: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) { self.body = body }
    public func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        let body = self.body
        Task { responder.respond(await body(request)) }
    }
}

/// Small lock-protected box; the responder is shared across threads by design.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

/// The one-shot answer channel for a request. Call `respond` once, or `startStreaming` once and then use the
/// writer; from any thread. Later calls are ignored. A responder dropped without an answer sends 500 so the client
/// is never left waiting.
public final class HTTPResponder: Sendable {
    private let sink: @Sendable (ResponsePart) -> Void
    private let answered = Locked(false)

    /// `sink` receives the parts in call order; the socket layer hops them onto the connection's queue.
    public init(sink: @escaping @Sendable (ResponsePart) -> Void) { self.sink = sink }

    private func claim() -> Bool {
        answered.withLock { done in
            if done { return false }
            done = true
            return true
        }
    }

    public var hasResponded: Bool { answered.withLock { $0 } }

    /// Sends a complete response. Returns false if this responder had already been used.
    @discardableResult
    public func respond(_ response: HTTPResponse) -> Bool {
        guard claim() else { return false }
        sink(.complete(response))
        return true
    }

    /// Sends the status and headers now; the body follows through the returned writer (chunked on HTTP/1.1 unless a
    /// `content-length` is given, deferred DATA on HTTP/2). Nil if this responder had already been used.
    public func startStreaming(_ head: HTTPResponseHead) -> HTTPBodyWriter? {
        guard claim() else { return nil }
        sink(.head(head))
        return HTTPBodyWriter(sink: sink)
    }

    deinit {
        if !answered.withLock({ $0 }) {
            sink(.complete(HTTPResponse(status: 500, text: "handler finished without a response\n")))
        }
    }
}

/// Body of a streamed response. Use from one thread at a time; `finish` must be called exactly once (a writer
/// dropped unfinished finishes the response so the stream ends).
public final class HTTPBodyWriter: Sendable {
    private let sink: @Sendable (ResponsePart) -> Void
    private let finished = Locked(false)

    init(sink: @escaping @Sendable (ResponsePart) -> Void) { self.sink = sink }

    public func write(_ bytes: [UInt8]) {
        guard !finished.withLock({ $0 }), !bytes.isEmpty else { return }
        sink(.body(bytes))
    }

    public func finish() {
        let first = finished.withLock { done in
            defer { done = true }
            return !done
        }
        if first { sink(.end) }
    }

    deinit { finish() }
}

/// Size limits applied by both protocol engines. Defaults suit a JSON API; every one is enforced with a clear status
/// (HTTP/1.1) or the HTTP/2 equivalent.
public struct HTTPLimits: Sendable, Equatable {
    /// Request line (method, target, version) in bytes; longer gives 414.
    public var maxRequestLineBytes: Int = 8 * 1024
    /// Whole request head (request line plus fields) in bytes; larger gives 431.
    public var maxHeadBytes: Int = 32 * 1024
    /// Number of header fields; more gives 431.
    public var maxHeaderCount: Int = 100
    /// Request body in bytes; larger gives 413.
    public var maxBodyBytes: Int = 1 << 20
    /// Unparsed pipelined HTTP/1.1 input kept while a response is outstanding; beyond it reading pauses.
    public var maxBufferedInputBytes: Int = 64 * 1024
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS.
    public var maxConcurrentStreams: Int = 128
    /// HTTP/2 initial stream receive window (SETTINGS_INITIAL_WINDOW_SIZE).
    public var initialWindowSize: Int = 1 << 20
    /// HTTP/2 stream resets a connection may cause, in either direction: a burst of this many, refilled at
    /// `resetsPerSecond`. Server-sent resets count too, since a client can provoke them on purpose (flow-control or
    /// header errors: "MadeYouReset"). Beyond it the connection ends with GOAWAY(ENHANCE_YOUR_CALM). The figures are
    /// nghttp2's own defaults for client resets.
    public var maxResetBurst: Int = 1000
    public var resetsPerSecond: Int = 33
    /// Requests the server refuses itself (HTTP/2 431 and 413) on one connection before it is closed: each costs
    /// header decoding, so a client that keeps sending them gets GOAWAY(ENHANCE_YOUR_CALM). HTTP/1.1 closes the
    /// connection after the first refusal anyway.
    public var maxRefusalsPerConnection: Int = 10

    public init() {}
}

/// Why an HTTP/1.1 request was rejected before reaching a handler.
public enum HTTP1RequestError: Error, Equatable, Sendable {
    case badRequest(String)
    case uriTooLong
    case headersTooLarge
    case bodyTooLarge
    case versionNotSupported
    case notImplemented(String)
    case expectationFailed
    case timeout

    public var status: Int {
        switch self {
        case .badRequest: 400
        case .uriTooLong: 414
        case .headersTooLarge: 431
        case .bodyTooLarge: 413
        case .versionNotSupported: 505
        case .notImplemented: 501
        case .expectationFailed: 417
        case .timeout: 408
        }
    }

    public var message: String {
        switch self {
        case .badRequest(let why): "bad request: \(why)"
        case .uriTooLong: "request line longer than the limit"
        case .headersTooLarge: "request header fields larger than the limit"
        case .bodyTooLarge: "request body larger than the limit"
        case .versionNotSupported: "only HTTP/1.0 and HTTP/1.1 are supported on this connection"
        case .notImplemented(let what): "not implemented: \(what)"
        case .expectationFailed: "only 'Expect: 100-continue' is supported"
        case .timeout: "request not received in time"
        }
    }
}

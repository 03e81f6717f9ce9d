import CNghttp2

/// HTTP/2 server connection over libnghttp2, driven purely by bytes: `receive` feeds peer bytes
/// (`nghttp2_session_mem_recv`), `takeOutput` pulls frames to write (`nghttp2_session_mem_send`). Not thread-safe:
/// every call for one connection must come from that connection's serial queue.
///
/// Responses go out with `nghttp2_submit_response` and a data provider reading the stream's pending body. A streamed
/// body that has no bytes yet makes the provider return `NGHTTP2_ERR_DEFERRED`; the next `.body`/`.end` part calls
/// `nghttp2_session_resume_data`. nghttp2 itself keeps within the peer's flow-control windows.
public final class HTTP2Session {
    /// Per-stream state, owned by `streams` and referenced by id from nghttp2 callbacks.
    final class Stream {
        let id: Int32
        var method = ""
        var path = ""
        var authority: String?
        var headers = HTTPHeaders()
        var headerBytes = 0
        var body: [UInt8] = []
        /// Status answered by the session itself (413, 431); the handler never sees the request.
        var rejected: Int?
        var requestComplete = false
        var responded = false
        var bodyless = false
        // Outgoing body, read by the data provider.
        var pending: [UInt8] = []
        var pendingOffset = 0
        var ended = false
        var deferred = false

        init(id: Int32) { self.id = id }
    }

    let limits: HTTPLimits
    private let date: () -> String
    private var session: OpaquePointer?
    var streams: [Int32: Stream] = [:]
    var ready: [(id: Int64, request: HTTPRequest)] = []
    /// nghttp2 reported an error after which the connection must be dropped, or the peer exceeded an abuse limit.
    public private(set) var failure: String?
    private var terminated = false
    private let clock: () -> UInt64
    var resets: ResetBudget
    /// Resets counted so far, by who sent them.
    public private(set) var resetsSent = 0
    public private(set) var resetsReceived = 0
    /// Requests answered 431/413 by the session itself.
    public private(set) var refusals = 0
    /// Response body bytes handed to nghttp2: progress that control frames (PING ACKs, SETTINGS) cannot fake.
    public private(set) var bodyBytesSent: UInt64 = 0
    /// Set inside a callback when a limit is exceeded; acted on once nghttp2 returns (see `enforceLimits`).
    var abuse: String?

    /// `clock` is monotonic nanoseconds (injected so rate limits are tested without sleeping).
    public init(limits: HTTPLimits = HTTPLimits(), date: @escaping () -> String, clock: @escaping () -> UInt64 = monotonicNanos) {
        self.limits = limits
        self.date = date
        self.clock = clock
        self.resets = ResetBudget(burst: limits.maxResetBurst, perSecond: limits.resetsPerSecond, now: clock())
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        HTTP2Session.installCallbacks(callbacks)
        // Unretained: the session object owns the nghttp2 session and deletes it in deinit, so it outlives it.
        let rv = nghttp2_session_server_new(&session, callbacks, Unmanaged.passUnretained(self).toOpaque())
        nghttp2_session_callbacks_del(callbacks)
        guard rv == 0, session != nil else {
            failure = "nghttp2_session_server_new failed: \(String(cString: nghttp2_strerror(rv)))"
            return
        }
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                                   value: UInt32(clamping: limits.maxConcurrentStreams)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                   value: UInt32(clamping: min(limits.initialWindowSize, Int(Int32.max)))),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                                   value: UInt32(clamping: limits.maxHeadBytes)),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        // The connection window starts at 64 KiB regardless of SETTINGS; widen it so uploads are not throttled.
        let connectionWindow = Int32(clamping: max(limits.initialWindowSize, 65_535))
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, connectionWindow)
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    // MARK: Input

    public func receive(_ bytes: UnsafeRawBufferPointer) {
        guard let session, failure == nil, !bytes.isEmpty else { return }
        guard let base = bytes.baseAddress else { return }
        let rv = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        if rv < 0 {
            failure = "HTTP/2 input rejected: \(String(cString: nghttp2_strerror(Int32(truncatingIfNeeded: rv))))"
            // Queue a GOAWAY so a peer that is still listening learns why the connection ends.
            nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR.rawValue)
            terminated = true
        }
        enforceLimits()
    }

    /// Ends the connection with GOAWAY(ENHANCE_YOUR_CALM) once a callback has recorded abuse. Not done inside the
    /// callback itself, where nghttp2 is in the middle of processing a frame.
    private func enforceLimits() {
        guard let session, let abuse, failure == nil else { return }
        failure = abuse
        nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM.rawValue)
        terminated = true
    }

    /// A RST_STREAM went out or came in.
    func countReset(sent: Bool) {
        if sent { resetsSent += 1 } else { resetsReceived += 1 }
        if !resets.spend(now: clock()), abuse == nil {
            abuse = "too many stream resets (\(resetsSent) sent, \(resetsReceived) received)"
        }
    }

    /// The session answered a request itself (431, 413).
    func countRefusal() {
        refusals += 1
        if refusals > limits.maxRefusalsPerConnection, abuse == nil {
            abuse = "\(refusals) requests refused on one connection (431/413)"
        }
    }

    public func receive(_ bytes: [UInt8]) { bytes.withUnsafeBytes { receive($0) } }

    /// Peer closed its side: nothing more can arrive, so the connection ends once output is written.
    public func receiveEnd() {
        terminated = true
    }

    public func takeRequests() -> [(id: Int64, request: HTTPRequest)] {
        defer { ready.removeAll(keepingCapacity: true) }
        return ready
    }

    /// Serialises pending frames into `sink` until it holds at least `limit` bytes or nghttp2 has nothing more to send
    /// (flow control or deferred bodies).
    public func takeOutput(into sink: inout [UInt8], limit: Int = 256 * 1024) {
        guard let session else { return }
        while sink.count < limit {
            var data: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &data)
            if n < 0 {
                failure = "nghttp2_session_mem_send: \(String(cString: nghttp2_strerror(Int32(truncatingIfNeeded: n))))"
                return
            }
            if n > 0, let data { sink.append(contentsOf: UnsafeBufferPointer(start: data, count: n)) }
            if abuse != nil && failure == nil {
                enforceLimits()  // queues the GOAWAY; the next round serialises it
                continue
            }
            if n <= 0 { return }
        }
    }

    /// Response data is waiting behind a flow-control window the peer keeps closed (slow read): the connection
    /// counts this as a write stall even though the socket itself is idle.
    public var outputBlocked: Bool {
        guard let session else { return false }
        let connectionWindow = nghttp2_session_get_remote_window_size(session)
        for stream in streams.values where stream.responded && stream.pending.count > stream.pendingOffset {
            if connectionWindow <= 0 || nghttp2_session_get_stream_remote_window_size(session, stream.id) <= 0 { return true }
        }
        return false
    }

    public var hasOutput: Bool { session.map { nghttp2_session_want_write($0) != 0 } ?? false }

    /// True once nghttp2 wants neither to read nor to write (after GOAWAY and the last stream), or after a failure.
    public var isFinished: Bool {
        guard let session, failure == nil else { return true }
        let wantRead = nghttp2_session_want_read(session) != 0 && !terminated
        return !wantRead && nghttp2_session_want_write(session) == 0
    }

    public var wantsInput: Bool {
        guard let session, failure == nil, !terminated else { return false }
        return nghttp2_session_want_read(session) != 0
    }

    public var phase: ConnectionPhase {
        if isFinished || terminated { return .closing }
        var handling = false
        for stream in streams.values {
            if !stream.requestComplete && stream.rejected == nil { return .readingRequest }
            handling = true
        }
        return handling ? .handling : .idle
    }

    public var openStreamCount: Int { streams.count }

    /// GOAWAY with the last processed stream id: streams up to it are still answered, then the connection ends.
    public func beginGracefulShutdown() {
        guard let session, !terminated else { return }
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session),
                              NGHTTP2_NO_ERROR.rawValue, nil, 0)
        if streams.isEmpty { terminated = true }
    }

    /// Read deadline passed (idle or a stalled stream): say goodbye and close.
    public func timedOut() {
        guard let session, !terminated else { return }
        nghttp2_session_terminate_session(session, NGHTTP2_NO_ERROR.rawValue)
        terminated = true
    }

    // MARK: Responses

    /// Applies one response part to stream `id`; ignored if the stream is gone (reset or closed by the peer).
    public func send(_ part: ResponsePart, for id: Int64) {
        guard let session, let stream = streams[Int32(truncatingIfNeeded: id)] else { return }
        switch part {
        case .complete(let response):
            guard !stream.responded else { return }
            submit(stream, head: response.head, contentLength: response.body.count, body: response.body, ended: true)
        case .head(let head):
            guard !stream.responded else { return }
            let length = head.headers["content-length"].flatMap { Int($0) }
            submit(stream, head: head, contentLength: length, body: [], ended: false)
        case .body(let bytes):
            guard stream.responded, !stream.bodyless, !stream.ended else { return }
            stream.pending.append(contentsOf: bytes)
            resumeIfDeferred(session, stream)
        case .end:
            guard stream.responded, !stream.ended else { return }
            stream.ended = true
            resumeIfDeferred(session, stream)
        }
    }

    private func resumeIfDeferred(_ session: OpaquePointer, _ stream: Stream) {
        if stream.deferred {
            stream.deferred = false
            nghttp2_session_resume_data(session, stream.id)
        }
    }

    func submit(_ stream: Stream, head: HTTPResponseHead, contentLength: Int?, body: [UInt8], ended: Bool) {
        guard let session else { return }
        stream.responded = true
        stream.bodyless = stream.method == "HEAD" || statusForbidsBody(head.status)
        stream.pending = stream.bodyless ? [] : body
        stream.ended = ended || stream.bodyless
        var fields: [(String, String)] = [(":status", String(head.status))]
        var hasDate = false
        for (name, value) in head.headers {
            switch name {
            case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "content-length":
                continue  // connection-specific fields are forbidden in HTTP/2; the length is set below
            case "date":
                hasDate = true
            default:
                break
            }
            fields.append((name, value))
        }
        if let contentLength, !statusForbidsBody(head.status) { fields.append(("content-length", String(contentLength))) }
        if !hasDate { fields.append(("date", date())) }

        let hasData = !(stream.bodyless || (ended && body.isEmpty))
        var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: h2ReadBody)
        let rv = withNameValuePairs(fields) { nva, count in
            hasData ? nghttp2_submit_response(session, stream.id, nva, count, &provider)
                : nghttp2_submit_response(session, stream.id, nva, count, nil)
        }
        if rv != 0 { nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, NGHTTP2_INTERNAL_ERROR.rawValue) }
    }

    /// Data provider body: copy what is pending; defer when a streamed body has nothing yet.
    func readBody(streamID: Int32, into buffer: UnsafeMutablePointer<UInt8>, length: Int,
                  flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let stream = streams[streamID] else {
            return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
        }
        let available = stream.pending.count - stream.pendingOffset
        if available == 0 && !stream.ended {
            stream.deferred = true
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        }
        let n = min(available, length)
        if n > 0 {
            stream.pending.withUnsafeBufferPointer { src in
                buffer.update(from: src.baseAddress! + stream.pendingOffset, count: n)
            }
            stream.pendingOffset += n
            bodyBytesSent &+= UInt64(n)
        }
        if stream.pendingOffset == stream.pending.count {
            stream.pending.removeAll(keepingCapacity: true)
            stream.pendingOffset = 0
            if stream.ended { flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
        }
        return n
    }
}

/// Builds an `nghttp2_nv` array over one contiguous copy of the names and values and calls `body` with it
/// (nghttp2 copies the fields during submit, so the storage only needs to live for the call).
func withNameValuePairs<R>(_ fields: [(String, String)], _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
    var storage: [UInt8] = []
    var offsets: [(Int, Int, Int, Int)] = []
    offsets.reserveCapacity(fields.count)
    for (name, value) in fields {
        let n = storage.count
        storage.append(contentsOf: name.utf8)
        let v = storage.count
        storage.append(contentsOf: value.utf8)
        offsets.append((n, v - n, v, storage.count - v))
    }
    storage.append(0)  // never empty, so the base address exists
    return storage.withUnsafeMutableBufferPointer { buf in
        let base = buf.baseAddress!
        let nva = offsets.map { (n, nl, v, vl) in
            nghttp2_nv(name: base + n, value: base + v, namelen: nl, valuelen: vl, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
        }
        return nva.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
    }
}

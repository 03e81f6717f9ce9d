import CNghttp2
import Foundation
@testable import HTTPCore

/// An nghttp2 *client* session used to produce real HTTP/2 frames for the server engine and to decode its answers.
final class H2TestClient {
    struct Response {
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        var closed = false
        var errorCode: UInt32 = 0
        var status: Int? { headers.first { $0.0 == ":status" }.flatMap { Int($0.1) } }
        func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }
    }

    private(set) var session: OpaquePointer?
    var responses: [Int32: Response] = [:]
    var goawayLastStreamID: Int32?
    var goawayErrorCode: UInt32?
    /// Request bodies being uploaded, by stream.
    var uploads: [Int32: (bytes: [UInt8], offset: Int)] = [:]

    init(settings: [(Int32, UInt32)] = []) {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nl, value, vl, _, ud in
            let me = Unmanaged<H2TestClient>.fromOpaque(ud!).takeUnretainedValue()
            let id = frame!.pointee.hd.stream_id
            me.responses[id, default: Response()].headers.append(
                (String(decoding: UnsafeBufferPointer(start: name, count: nl), as: UTF8.self),
                 String(decoding: UnsafeBufferPointer(start: value, count: vl), as: UTF8.self)))
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, id, data, len, ud in
            let me = Unmanaged<H2TestClient>.fromOpaque(ud!).takeUnretainedValue()
            me.responses[id, default: Response()].body.append(contentsOf: UnsafeBufferPointer(start: data, count: len))
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, id, code, ud in
            let me = Unmanaged<H2TestClient>.fromOpaque(ud!).takeUnretainedValue()
            me.responses[id, default: Response()].closed = true
            me.responses[id, default: Response()].errorCode = code
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, ud in
            let me = Unmanaged<H2TestClient>.fromOpaque(ud!).takeUnretainedValue()
            if frame!.pointee.hd.type == UInt8(NGHTTP2_GOAWAY.rawValue) {
                me.goawayLastStreamID = frame!.pointee.goaway.last_stream_id
                me.goawayErrorCode = frame!.pointee.goaway.error_code
            }
            return 0
        }
        nghttp2_session_client_new(&session, callbacks, Unmanaged.passUnretained(self).toOpaque())
        nghttp2_session_callbacks_del(callbacks)
        var entries = settings.map { nghttp2_settings_entry(settings_id: $0.0, value: $0.1) }
        nghttp2_submit_settings(session, 0, &entries, entries.count)
    }

    deinit { nghttp2_session_del(session) }

    /// Submits a request; returns its stream id.
    @discardableResult
    func request(_ method: String = "GET", _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) -> Int32 {
        let fields = [(":method", method), (":path", path), (":scheme", "http"), (":authority", "test.local")] + headers
        var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil)) { session, id, buf, length, flags, _, ud in
            let me = Unmanaged<H2TestClient>.fromOpaque(ud!).takeUnretainedValue()
            guard var upload = me.uploads[id] else { return 0 }
            let n = min(length, upload.bytes.count - upload.offset)
            upload.bytes.withUnsafeBufferPointer { buf!.update(from: $0.baseAddress! + upload.offset, count: n) }
            upload.offset += n
            if upload.offset == upload.bytes.count { flags!.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
            me.uploads[id] = upload
            return n
        }
        let id = withNameValuePairs(fields) { nva, count in
            body == nil ? nghttp2_submit_request(session, nil, nva, count, nil, nil)
                : nghttp2_submit_request(session, nil, nva, count, &provider, nil)
        }
        if let body { uploads[id] = (body, 0) }
        return id
    }

    func output() -> [UInt8] {
        var out: [UInt8] = []
        while true {
            var data: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &data)
            if n <= 0 { break }
            out.append(contentsOf: UnsafeBufferPointer(start: data, count: n))
        }
        return out
    }

    @discardableResult
    func receive(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBufferPointer { nghttp2_session_mem_recv(session, $0.baseAddress, $0.count) }
    }

    func resumeUpload(_ id: Int32) { nghttp2_session_resume_data(session, id) }
}

/// Moves bytes between a client session and the server engine until neither side has anything more to say.
/// `chunk` splits the client's bytes (1 = one byte at a time); `answer` handles requests as the server's handler.
@discardableResult
func pump(_ client: H2TestClient, _ server: HTTP2Session, chunk: Int = .max, maxRounds: Int = 10_000,
          answer: (Int64, HTTPRequest) -> Void = { _, _ in }) -> Int {
    var rounds = 0
    while rounds < maxRounds {
        rounds += 1
        let up = client.output()
        var index = 0
        while index < up.count {
            let end = min(up.count, index + chunk)
            server.receive(Array(up[index..<end]))
            index = end
        }
        for (id, request) in server.takeRequests() { answer(id, request) }
        var down: [UInt8] = []
        server.takeOutput(into: &down, limit: .max)
        if !down.isEmpty { client.receive(down) }
        if up.isEmpty && down.isEmpty { break }
    }
    return rounds
}

let fixedDate = "Thu, 01 Jan 1970 00:00:00 GMT"

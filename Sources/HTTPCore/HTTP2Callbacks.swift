import CNghttp2

// nghttp2 calls back through C function pointers; `user_data` is the unretained `HTTP2Session` (see its init).

@inline(__always)
private func owner(_ userData: UnsafeMutableRawPointer?) -> HTTP2Session {
    Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
}

private let frameHeaders = UInt8(NGHTTP2_HEADERS.rawValue)
private let frameData = UInt8(NGHTTP2_DATA.rawValue)
private let frameReset = UInt8(NGHTTP2_RST_STREAM.rawValue)
private let flagEndStream = UInt8(NGHTTP2_FLAG_END_STREAM.rawValue)

/// Data provider read callback shared by every response.
let h2ReadBody: nghttp2_data_source_read_callback = { _, streamID, buffer, length, flags, _, userData in
    owner(userData).readBody(streamID: streamID, into: buffer!, length: length, flags: flags!)
}

extension HTTP2Session {
    static func installCallbacks(_ callbacks: OpaquePointer?) {
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, userData in
            guard let frame, frame.pointee.hd.type == frameHeaders,
                  frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST else { return 0 }
            let id = frame.pointee.hd.stream_id
            owner(userData).streams[id] = HTTP2Session.Stream(id: id)
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            guard let frame, let name, let value else { return 0 }
            let keep = owner(userData).onHeader(streamID: frame.pointee.hd.stream_id,
                                                name: UnsafeBufferPointer(start: name, count: nameLength),
                                                value: UnsafeBufferPointer(start: value, count: valueLength))
            // Refusing a field resets the stream and makes nghttp2 skip the rest of the block (see `onHeader`).
            return keep ? 0 : Int32(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            guard let data else { return 0 }
            owner(userData).onData(streamID: streamID, UnsafeBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            let type = frame.pointee.hd.type
            if type == frameReset { owner(userData).countReset(sent: false) }
            guard type == frameHeaders || type == frameData else { return 0 }
            owner(userData).onStreamFrame(streamID: frame.pointee.hd.stream_id,
                                          endStream: frame.pointee.hd.flags & flagEndStream != 0)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks) { _, frame, userData in
            if let frame, frame.pointee.hd.type == frameReset { owner(userData).countReset(sent: true) }
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, _, userData in
            owner(userData).streams[streamID] = nil
            return 0
        }
    }

    /// Records one request field; false asks nghttp2 to reset the stream and stop delivering its fields. That is
    /// for header blocks that decode far beyond the limit (an HPACK bomb: one 4 KB table entry referenced thousands
    /// of times by one-byte indices), whose every field nghttp2 would otherwise validate: ≈ 8 ms of CPU per 8 KiB
    /// request. A block merely over the limit still gets its 431.
    func onHeader(streamID: Int32, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let stream = streams[streamID], !stream.requestComplete else { return true }
        // RFC 9113 §6.5.2 counts each field as name + value + 32 bytes.
        stream.headerBytes += name.count + value.count + 32  // each at most the 2^31 nghttp2 allows: no overflow
        if stream.rejected != nil {
            let (cap, overflow) = limits.maxHeadBytes.multipliedReportingOverflow(by: Self.bombFactor)
            return overflow || stream.headerBytes <= cap
        }
        if stream.headerBytes > limits.maxHeadBytes || stream.headers.count >= limits.maxHeaderCount {
            stream.rejected = 431
            countRefusal()
            stream.headers = HTTPHeaders()
            return true
        }
        let text = String(decoding: value, as: UTF8.self)
        if name.first == UInt8(ascii: ":") {
            switch String(decoding: name, as: UTF8.self) {
            case ":method": stream.method = text
            case ":path": stream.path = text
            case ":authority": stream.authority = text
            default: break  // :scheme is not needed by handlers
            }
        } else {
            // nghttp2 has already rejected uppercase names and connection-specific fields.
            stream.headers.addLowercased(String(decoding: name, as: UTF8.self), text)
        }
        return true
    }

    /// Decoded header bytes beyond `bombFactor × maxHeadBytes` are not even validated (see `onHeader`).
    static let bombFactor = 4

    func onData(streamID: Int32, _ data: UnsafeBufferPointer<UInt8>) {
        guard let stream = streams[streamID], stream.rejected == nil else { return }
        if stream.body.count + data.count > limits.maxBodyBytes {
            stream.rejected = 413
            countRefusal()
            stream.body = []
            reject(stream)
            return
        }
        stream.body.append(contentsOf: data)
    }

    func onStreamFrame(streamID: Int32, endStream: Bool) {
        guard let stream = streams[streamID] else { return }
        if stream.rejected != nil {
            reject(stream)
            return
        }
        guard endStream, !stream.requestComplete else { return }
        stream.requestComplete = true
        if stream.authority == nil, let host = stream.headers["host"] { stream.authority = host }
        let request = HTTPRequest(method: stream.method, target: stream.path, version: .http2,
                                  headers: stream.headers, body: stream.body, authority: stream.authority)
        stream.body = []
        ready.append((id: Int64(streamID), request: request))
    }

    /// Answers a request the session refused itself (too large), once.
    private func reject(_ stream: Stream) {
        guard let status = stream.rejected, !stream.responded else { return }
        let message = status == 413 ? "request body larger than the limit\n" : "request header fields larger than the limit\n"
        let body = Array(message.utf8)
        submit(stream, head: HTTPResponseHead(status: status, headers: ["content-type": "text/plain; charset=utf-8"]),
               contentLength: body.count, body: body, ended: true)
    }
}

/// How the body of a request is delimited.
enum BodyFraming: Equatable {
    case none
    case length(Int)
    case chunked
}

/// Request line and header fields, with the framing and connection semantics derived from them.
struct HTTP1RequestHead: Equatable {
    var method: String
    var target: String
    var version: HTTPVersion
    var headers: HTTPHeaders
    var framing: BodyFraming
    var keepAlive: Bool
    var expectsContinue: Bool
}

/// Incremental HTTP/1.1 request parser over a growing byte buffer. It never copies the buffer: the caller passes the
/// buffer and a read position, and the parser advances the position past what it has consumed. Any split of the
/// input into chunks (down to one byte) gives the same result.
struct HTTP1RequestParser {
    enum Progress: Equatable {
        case needMore
        /// The head is complete; body bytes (if any) follow.
        case head(HTTP1RequestHead)
        /// The body is complete; the parser is ready for the next request.
        case complete(body: [UInt8])
    }

    private enum State {
        case head(scanned: Int)
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(bytes: Int)
    }

    /// A chunk-size line (hex size plus extensions) longer than this is rejected.
    static let maxChunkLineBytes = 1024
    /// Chunk extensions are read and dropped; their total per message is bounded so they cannot be a free channel
    /// for unbounded input (each line alone is already bounded by `maxChunkLineBytes`).
    static let maxChunkExtensionBytes = 4096
    /// Hex digits in a chunk size: 15 keeps the value below 2^60, far above any body limit and clear of overflow.
    static let maxChunkSizeDigits = 15

    let limits: HTTPLimits
    private var state: State = .head(scanned: 0)
    private var body: [UInt8] = []
    private var extensionBytes = 0

    init(limits: HTTPLimits) { self.limits = limits }

    /// True between the first byte of a request and its completion.
    var isInsideMessage: Bool {
        if case .head(let scanned) = state { return scanned > 0 }
        return true
    }

    mutating func advance(_ buffer: [UInt8], _ position: inout Int) throws(HTTP1RequestError) -> Progress {
        while true {
            switch state {
            case .head(let scanned):
                return try parseHead(buffer, &position, scanned: scanned)
            case .fixedBody(let remaining):
                let take = min(remaining, buffer.count - position)
                body.append(contentsOf: buffer[position..<position + take])
                position += take
                if remaining - take > 0 {
                    state = .fixedBody(remaining: remaining - take)
                    return .needMore
                }
                return finish()
            case .chunkSize:
                guard let lineEnd = findLF(buffer, from: position, limit: Self.maxChunkLineBytes) else {
                    if buffer.count - position > Self.maxChunkLineBytes { throw .badRequest("chunk size line too long") }
                    return .needMore
                }
                // Strict CRLF: a bare LF is a line end to some parsers and not to others (a smuggling vector).
                guard lineEnd > position, buffer[lineEnd - 1] == UInt8(ascii: "\r") else {
                    throw .badRequest("chunk size line not ended by CRLF")
                }
                let size = try parseChunkSize(buffer[position..<(lineEnd - 1)])
                position = lineEnd + 1
                if size == 0 {
                    state = .trailers(bytes: 0)
                } else {
                    // Subtracting keeps the comparison clear of overflow whatever `size` is.
                    if size > limits.maxBodyBytes - body.count { throw .bodyTooLarge }
                    body.reserveCapacity(body.count + size)
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let take = min(remaining, buffer.count - position)
                body.append(contentsOf: buffer[position..<position + take])
                position += take
                if remaining - take > 0 {
                    state = .chunkData(remaining: remaining - take)
                    return .needMore
                }
                state = .chunkDataEnd
            case .chunkDataEnd:
                guard position < buffer.count else { return .needMore }
                if buffer[position] == UInt8(ascii: "\r") {
                    guard position + 1 < buffer.count else { return .needMore }
                    guard buffer[position + 1] == UInt8(ascii: "\n") else { throw .badRequest("chunk data not followed by CRLF") }
                    position += 2
                } else if buffer[position] == UInt8(ascii: "\n") {
                    throw .badRequest("chunk data not followed by CRLF")
                } else {
                    throw .badRequest("chunk data longer than its declared size")
                }
                state = .chunkSize
            case .trailers(let bytes):
                let room = limits.maxHeadBytes - bytes
                guard let lineEnd = findLF(buffer, from: position, limit: room) else {
                    if buffer.count - position > room { throw .headersTooLarge }
                    return .needMore
                }
                let lineLength = lineEnd - position
                guard lineLength > 0, buffer[lineEnd - 1] == UInt8(ascii: "\r") else {
                    throw .badRequest("trailer line not ended by CRLF")
                }
                let empty = lineLength == 1
                position = lineEnd + 1
                if empty { return finish() }
                // Trailer fields are read and dropped: nothing in this server acts on them.
                state = .trailers(bytes: bytes + lineLength + 1)
            }
        }
    }

    private mutating func finish() -> Progress {
        let done = body
        body = []
        extensionBytes = 0
        state = .head(scanned: 0)
        return .complete(body: done)
    }

    private func findLF(_ buffer: [UInt8], from start: Int, limit: Int) -> Int? {
        let end = min(buffer.count, start + max(limit, 0) + 1)
        var i = start
        while i < end {
            if buffer[i] == UInt8(ascii: "\n") { return i }
            i += 1
        }
        return nil
    }

    /// `line` is the chunk-size line without its CRLF: hex digits, optional whitespace, optional `;extensions`.
    private mutating func parseChunkSize(_ line: ArraySlice<UInt8>) throws(HTTP1RequestError) -> Int {
        var size = 0
        var digits = 0
        var i = line.startIndex
        while i < line.endIndex, let v = hexValue(line[i]) {
            // Count before multiplying: the digit limit is what keeps `size * 16 + v` in range.
            digits += 1
            if digits > Self.maxChunkSizeDigits { throw .badRequest("chunk size too large") }
            size = size &* 16 &+ v
            i += 1
        }
        guard digits > 0 else { throw .badRequest("missing chunk size") }
        while i < line.endIndex, line[i] == UInt8(ascii: " ") || line[i] == UInt8(ascii: "\t") { i += 1 }
        guard i < line.endIndex else { return size }
        guard line[i] == UInt8(ascii: ";") else { throw .badRequest("invalid chunk size line") }
        // Extensions are ignored, but only visible text and whitespace may appear in them: NUL, a bare CR or other
        // control bytes are read differently by different parsers.
        let extensions = line[i...]
        guard extensions.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            throw .badRequest("control character in chunk extension")
        }
        extensionBytes += extensions.count
        if extensionBytes > Self.maxChunkExtensionBytes { throw .badRequest("chunk extensions larger than the limit") }
        return size
    }

    private func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(b - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    // MARK: Head

    private mutating func parseHead(_ buffer: [UInt8], _ position: inout Int, scanned: Int) throws(HTTP1RequestError) -> Progress {
        if scanned == 0 {
            // Empty lines before a request line are ignored (RFC 9112 §2.2).
            while position < buffer.count, buffer[position] == UInt8(ascii: "\r") || buffer[position] == UInt8(ascii: "\n") {
                position += 1
            }
        }
        let start = position
        var i = start + max(scanned - 3, 0)
        var headEnd: Int? = nil
        while i < buffer.count {
            if buffer[i] == UInt8(ascii: "\n") {
                // Strict CRLF (RFC 9112 §2.2 lets a server refuse a bare LF): a front proxy that reads `a\nB: c` as
                // one field while we read two is how request smuggling starts.
                guard i > start, buffer[i - 1] == UInt8(ascii: "\r") else { throw .badRequest("bare LF in request head") }
                if i - 2 >= start, buffer[i - 2] == UInt8(ascii: "\n") {
                    headEnd = i + 1
                    break
                }
            }
            i += 1
        }
        guard let end = headEnd else {
            let pending = buffer.count - start
            if pending > limits.maxRequestLineBytes,
               findLF(buffer, from: start, limit: limits.maxRequestLineBytes) == nil {
                throw .uriTooLong
            }
            if pending > limits.maxHeadBytes { throw .headersTooLarge }
            state = .head(scanned: pending)
            return .needMore
        }
        let head = try parseHeadLines(buffer[start..<end])
        position = end
        switch head.framing {
        case .none:
            state = .fixedBody(remaining: 0)  // completes on the next call
        case .length(let n):
            body.reserveCapacity(n)
            state = .fixedBody(remaining: n)
        case .chunked:
            state = .chunkSize
        }
        return .head(head)
    }

    private func parseHeadLines(_ bytes: ArraySlice<UInt8>) throws(HTTP1RequestError) -> HTTP1RequestHead {
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = bytes.startIndex
        for i in bytes.indices where bytes[i] == UInt8(ascii: "\n") {
            lines.append(bytes[lineStart..<i].dropLast())  // the CR, checked while scanning for the end
            lineStart = i + 1
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let requestLine = lines.first else { throw .badRequest("empty request") }
        if requestLine.count > limits.maxRequestLineBytes { throw .uriTooLong }
        if bytes.count > limits.maxHeadBytes { throw .headersTooLarge }
        if lines.count - 1 > limits.maxHeaderCount { throw .headersTooLarge }

        let (method, target, version) = try parseRequestLine(requestLine)
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            let (name, value) = try parseField(line)
            headers.addLowercased(name, value)
        }
        return try interpret(method: method, target: target, version: version, headers: headers)
    }

    private func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTP1RequestError) -> (String, String, HTTPVersion) {
        guard let sp1 = line.firstIndex(of: UInt8(ascii: " ")) else { throw .badRequest("malformed request line") }
        let methodBytes = line[line.startIndex..<sp1]
        guard !methodBytes.isEmpty, methodBytes.allSatisfy(isTokenByte) else { throw .badRequest("invalid method") }
        let rest = line[(sp1 + 1)...]
        guard let sp2 = rest.firstIndex(of: UInt8(ascii: " ")) else { throw .badRequest("malformed request line") }
        let targetBytes = rest[rest.startIndex..<sp2]
        guard !targetBytes.isEmpty, targetBytes.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw .badRequest("invalid request target")
        }
        let versionBytes = rest[(sp2 + 1)...]
        let version: HTTPVersion
        if versionBytes.elementsEqual("HTTP/1.1".utf8) {
            version = .http1_1
        } else if versionBytes.elementsEqual("HTTP/1.0".utf8) {
            version = .http1_0
        } else if versionBytes.count == 8, versionBytes.starts(with: "HTTP/".utf8),
                  versionBytes.dropFirst(5).enumerated().allSatisfy({ $0.offset == 1 ? $0.element == UInt8(ascii: ".") : isDigit($0.element) }) {
            throw .versionNotSupported
        } else {
            throw .badRequest("invalid HTTP version")
        }
        // Checked after the version, so `PRI * HTTP/2.0` still gets 505.
        // Origin form (`/p?q`), absolute form (`http://h/p`) or `OPTIONS *`; anything else (`x/../p`, an authority)
        // would be resolved differently by whatever sits in front of this server.
        let originForm = targetBytes.first == UInt8(ascii: "/")
        let absoluteForm = targetBytes.starts(with: "http://".utf8) || targetBytes.starts(with: "https://".utf8)
        let asterisk = targetBytes.elementsEqual("*".utf8) && methodBytes.elementsEqual("OPTIONS".utf8)
        guard originForm || absoluteForm || asterisk else { throw .badRequest("request target must start with '/'") }
        return (String(decoding: methodBytes, as: UTF8.self), String(decoding: targetBytes, as: UTF8.self), version)
    }

    private func parseField(_ line: ArraySlice<UInt8>) throws(HTTP1RequestError) -> (String, String) {
        if let first = line.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
            throw .badRequest("obsolete line folding in header fields")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .badRequest("header line without colon") }
        let nameBytes = line[line.startIndex..<colon]
        guard !nameBytes.isEmpty, nameBytes.allSatisfy(isTokenByte) else { throw .badRequest("invalid header name") }
        var value = line[(colon + 1)...]
        while let f = value.first, f == UInt8(ascii: " ") || f == UInt8(ascii: "\t") { value = value.dropFirst() }
        while let l = value.last, l == UInt8(ascii: " ") || l == UInt8(ascii: "\t") { value = value.dropLast() }
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            throw .badRequest("control character in header '\(String(decoding: nameBytes, as: UTF8.self))'")
        }
        let name = String(decoding: nameBytes.map { $0 | (isUpper($0) ? 0x20 : 0) }, as: UTF8.self)
        return (name, String(decoding: value, as: UTF8.self))
    }

    /// Derives framing, keep-alive and expectations, rejecting ambiguous framing (request smuggling vectors).
    private func interpret(method: String, target: String, version: HTTPVersion,
                           headers: HTTPHeaders) throws(HTTP1RequestError) -> HTTP1RequestHead {
        let hosts = headers.values("host")
        if version == .http1_1 && hosts.count != 1 { throw .badRequest(hosts.isEmpty ? "missing Host header" : "more than one Host header") }

        var framing = BodyFraming.none
        let transferEncodings = headers.values("transfer-encoding")
        let lengths = headers.values("content-length")
        if !transferEncodings.isEmpty {
            if version == .http1_0 { throw .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            if !lengths.isEmpty { throw .badRequest("both Transfer-Encoding and Content-Length") }
            let codings = transferEncodings.flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces().lowercased() }
            guard codings.last == "chunked" else { throw .badRequest("Transfer-Encoding does not end in chunked") }
            if codings.count > 1 {
                if codings.filter({ $0 == "chunked" }).count > 1 { throw .badRequest("chunked applied twice") }
                throw .notImplemented("transfer coding '\(codings[0])'")
            }
            framing = .chunked
        } else if !lengths.isEmpty {
            let values = lengths.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }.map { $0.trimmingSpaces() }
            guard let first = values.first, values.allSatisfy({ $0 == first }),
                  !first.isEmpty, first.count <= 18, first.utf8.allSatisfy(isDigit), let n = Int(first) else {
                throw .badRequest("invalid Content-Length")
            }
            if n > limits.maxBodyBytes { throw .bodyTooLarge }
            framing = n > 0 ? .length(n) : .none
        }

        var expectsContinue = false
        if let expect = headers["expect"] {
            guard expect.lowercased() == "100-continue" else { throw .expectationFailed }
            expectsContinue = version == .http1_1 && framing != .none
        }

        let keepAlive: Bool
        if headers.hasToken("close", in: "connection") {
            keepAlive = false
        } else {
            keepAlive = version == .http1_1 || headers.hasToken("keep-alive", in: "connection")
        }
        return HTTP1RequestHead(method: method, target: target, version: version, headers: headers,
                                framing: framing, keepAlive: keepAlive, expectsContinue: expectsContinue)
    }
}

@inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
@inline(__always) func isUpper(_ b: UInt8) -> Bool { b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") }

/// RFC 9110 token characters (method names, field names).
@inline(__always) func isTokenByte(_ b: UInt8) -> Bool {
    switch b {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
         UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
         UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        return true
    default:
        return false
    }
}

import Foundation
import HTTPTesting
import XCTest
@testable import HTTPServer

/// Issue 11, live: one test per class of hostile client. Each checks the exact refusal (or the close) and that the
/// process is still serving afterwards.
final class HostileClientTests: XCTestCase {
    private func assertStillServing(_ live: LiveServer, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runClient("curl", ["-sS", "--max-time", "5", live.base + "/hello"])
        XCTAssertEqual(r.stdout, "hello\n", r.stderr, file: file, line: line)
        let h2 = try runClient("curl", ["-sS", "--http2-prior-knowledge", "--max-time", "5", live.base + "/hello"])
        XCTAssertEqual(h2.stdout, "hello\n", h2.stderr, file: file, line: line)
    }

    private func status(_ bytes: [UInt8]) -> String { String(String(decoding: bytes, as: UTF8.self).prefix(12)) }

    /// The 73-byte request that used to kill the process, and the smuggling-shaped inputs strict parsing refuses.
    func testOverflowingAndAmbiguousHTTP1RequestsGet400() throws {
        let live = try LiveServer()
        defer { live.stop() }
        let inputs = [
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\n",
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\n",
            "POST /echo HTTP/1.1\r\nHost: x\r\nX-A: a\nContent-Length: 5\r\n\r\nhello",
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=\u{0}\r\nabc\r\n0\r\n\r\n",
            "GET hello HTTP/1.1\r\nHost: x\r\n\r\n",
        ]
        for input in inputs {
            let client = try RawClient(port: live.port)
            client.send(input)
            let (bytes, closed) = client.readToEnd()
            XCTAssertEqual(status(bytes), "HTTP/1.1 400", input.debugDescription)
            XCTAssertTrue(closed)
        }
        XCTAssertTrue(eventually { live.server.counters.refusals == inputs.count })
        try assertStillServing(live)
    }

    private func frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags]
            + withUnsafeBytes(of: stream.bigEndian, Array.init) + payload
    }

    /// HPACK: GET (or POST) `path` over http, authority "x", plus literal fields (name, value), none indexed.
    private func headers(_ stream: UInt32, post: Bool = false, path: String, extra: [(String, String)] = [],
                         endStream: Bool = true) -> [UInt8] {
        var block: [UInt8] = [post ? 0x83 : 0x82, 0x04, UInt8(path.utf8.count)] + Array(path.utf8) + [0x86, 0x41, 1, 0x78]
        for (name, value) in extra {
            block += [0x00] + hpackLength(name.utf8.count) + Array(name.utf8) + hpackLength(value.utf8.count) + Array(value.utf8)
        }
        return frame(1, endStream ? 0x05 : 0x04, stream, block)
    }

    private func hpackLength(_ n: Int) -> [UInt8] {
        if n < 127 { return [UInt8(n)] }
        var rest = n - 127
        var out: [UInt8] = [127]
        while rest >= 128 { out.append(UInt8(rest & 0x7F | 0x80)); rest >>= 7 }
        return out + [UInt8(rest)]
    }

    private let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// The GOAWAY error code in a server's frame stream, if it sent one.
    private func goawayCode(_ bytes: [UInt8]) -> UInt32? {
        var i = 0
        while i + 9 <= bytes.count {
            let length = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            if bytes[i + 3] == 7, i + 9 + 8 <= bytes.count {
                return bytes[(i + 13)..<(i + 17)].reduce(0) { $0 << 8 | UInt32($1) }
            }
            i += 9 + length
        }
        return nil
    }

    /// Resets the client provokes from the server (a content-length its END_STREAM contradicts) and repeated 431s
    /// both end the connection with GOAWAY(ENHANCE_YOUR_CALM); the events are counted and logged.
    func testProvokedResetsAndRepeated431sEndTheConnection() throws {
        let events = LogLines()
        let live = try LiveServer {
            $0.limits.maxResetBurst = 50
            $0.limits.maxHeadBytes = 2048
            $0.eventLog = .custom { events.append($0) }
        }
        defer { live.stop() }
        let resets = try RawClient(port: live.port)
        var out = preface + frame(4, 0, 0, [])
        for k in 0..<60 { out += headers(UInt32(2 * k + 1), post: true, path: "/echo", extra: [("content-length", "5")]) }
        resets.send(out)
        let (bytes, closed) = resets.readToEnd()
        XCTAssertTrue(closed)
        XCTAssertEqual(goawayCode(bytes), 0x0b, "GOAWAY(ENHANCE_YOUR_CALM) expected")

        let bombs = try RawClient(port: live.port)
        out = preface + frame(4, 0, 0, [])
        for k in 0..<12 { out += headers(UInt32(2 * k + 1), path: "/hello", extra: [("x-big", String(repeating: "b", count: 3000))]) }
        bombs.send(out)
        let (bombBytes, bombClosed) = bombs.readToEnd()
        XCTAssertTrue(bombClosed)
        XCTAssertEqual(goawayCode(bombBytes), 0x0b)

        XCTAssertTrue(eventually { live.server.counters.protocolErrors == 2 })
        XCTAssertTrue(eventually { events.lines.count == 2 }, "\(events.lines)")
        XCTAssertTrue(events.lines.contains { $0.hasSuffix("too many stream resets (51 sent, 0 received)") }, "\(events.lines)")
        XCTAssertTrue(events.lines.contains { $0.hasSuffix("11 requests refused on one connection (431/413)") }, "\(events.lines)")
        try assertStillServing(live)
    }

    /// Slow read two ways: an HTTP/2 client that keeps its window at zero (while pinging), and a TCP peer that never
    /// reads. Both are closed after the write-stall timeout, counted and logged.
    func testStalledOutputIsClosedAfterTheWriteStallTimeout() throws {
        let events = LogLines()
        let live = try LiveServer {
            $0.timeouts.writeStall = .seconds(1)
            $0.eventLog = .custom { events.append($0) }
        }
        defer { live.stop() }
        let h2 = try RawClient(port: live.port, readTimeout: 6)
        // SETTINGS_INITIAL_WINDOW_SIZE = 0: the response headers go out, the body cannot.
        h2.send(preface + frame(4, 0, 0, [0, 4, 0, 0, 0, 0]) + headers(1, path: "/big"))
        let pinging = DispatchWorkItem {
            for _ in 0..<30 {
                if !h2.send(self.frame(6, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8])) { return }
                usleep(100_000)
            }
        }
        DispatchQueue.global().async(execute: pinging)
        let started = Date()
        let (_, closed) = h2.readToEnd()
        let took = Date().timeIntervalSince(started)
        XCTAssertTrue(closed, "a zero-window connection must be closed")
        XCTAssertLessThan(took, 3.5, "closed after the 1 s write-stall timeout, PINGs notwithstanding")
        XCTAssertGreaterThan(took, 0.9)

        let tcp = try RawClient(port: live.port, receiveBuffer: 4096)
        tcp.send(String(repeating: "GET /big HTTP/1.1\r\nHost: x\r\n\r\n", count: 4))  // 16 MiB of answers, never read
        XCTAssertTrue(eventually(timeout: 5) { live.server.counters.writeStalls == 2 })
        XCTAssertTrue(eventually { live.server.openConnections == 0 })
        XCTAssertTrue(eventually { events.lines.count == 2 }, "\(events.lines)")
        XCTAssertTrue(events.lines[0].hasSuffix("closed: output made no progress for 1.0 seconds (flow-control window kept closed)"), events.lines[0])
        XCTAssertTrue(events.lines[1].hasSuffix("closed: output made no progress for 1.0 seconds (peer not reading)"), events.lines[1])
        try assertStillServing(live)
    }
}

import Foundation
import HTTPTesting
import XCTest
@testable import HTTPServer

/// Hostile and broken clients over raw sockets: each gets an answer or a closed connection, and the server keeps
/// serving everyone else.
final class BadInputTests: XCTestCase {
    private func assertStillServing(_ live: LiveServer, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runClient("curl", ["-sS", "--max-time", "5", live.base + "/hello"])
        XCTAssertEqual(r.stdout, "hello\n", r.stderr, file: file, line: line)
    }

    func testGarbageGets400AndClose() throws {
        let live = try LiveServer()
        defer { live.stop() }
        let client = try RawClient(port: live.port)
        var rng = SystemRandomNumberGenerator()
        client.send((0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) } + Array("\r\n\r\n".utf8))
        let (bytes, closed) = client.readToEnd()
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 4"), String(decoding: bytes.prefix(80), as: UTF8.self))
        XCTAssertTrue(closed)
        try assertStillServing(live)
    }

    func testOversizedHeaderAndBodyGet431And413() throws {
        let live = try LiveServer { $0.limits.maxHeadBytes = 4096; $0.limits.maxBodyBytes = 1000 }
        defer { live.stop() }
        let a = try RawClient(port: live.port)
        a.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "x", count: 10_000) + "\r\n\r\n")
        XCTAssertTrue(String(decoding: a.readToEnd().bytes, as: UTF8.self).hasPrefix("HTTP/1.1 431 "))
        let b = try RawClient(port: live.port)
        b.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + String(repeating: "y", count: 5000))
        let (bytes, closed) = b.readToEnd()
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 413 "))
        XCTAssertTrue(closed)
        let h2 = try runClient("curl", ["-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                                  "--data-binary", String(repeating: "z", count: 5000), live.base + "/echo"])
        XCTAssertEqual(h2.stdout, "413")
        try assertStillServing(live)
    }

    func testTruncatedHTTP2FramesAndAbruptClose() throws {
        let live = try LiveServer()
        defer { live.stop() }
        let client = try RawClient(port: live.port)
        // Preface, an empty SETTINGS, then a HEADERS frame header promising 100 bytes followed by only 3.
        client.send(Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0] + [0, 0, 100, 1, 5, 0, 0, 0, 1, 0x82, 0x84, 0x86])
        let settings = client.read(until: "\u{4}")
        XCTAssertGreaterThanOrEqual(settings.utf8.count, 9, "server SETTINGS expected")
        XCTAssertTrue(eventually { live.server.openConnections == 1 })
        client.shutdownWrite()
        XCTAssertTrue(client.readToEnd().closed)
        XCTAssertTrue(eventually { live.server.openConnections == 0 })
        try assertStillServing(live)
    }

    func testHalfClosedClientStillGetsItsResponses() throws {
        let live = try LiveServer()
        defer { live.stop() }
        let client = try RawClient(port: live.port)
        client.send("GET /later HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        client.shutdownWrite()
        let (bytes, closed) = client.readToEnd()
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(closed)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK"), text)
        XCTAssertEqual(text.components(separatedBy: "HTTP/1.1 200 OK").count, 3, text)
        XCTAssertTrue(text.hasSuffix("hello\n"))
    }

    func testSlowLorisIsCutOffWith408() throws {
        let live = try LiveServer { $0.timeouts.requestRead = .milliseconds(300) }
        defer { live.stop() }
        let client = try RawClient(port: live.port)
        let start = Date()
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\n")
        for i in 0..<3 {  // keep trickling bytes; they must not extend the deadline
            usleep(100_000)
            client.send("X-\(i): v\r\n")
        }
        let (bytes, closed) = client.readToEnd()
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 408 "))
        XCTAssertTrue(closed)
        XCTAssertLessThan(elapsed, 3, "the deadline is fixed at the first byte")
        XCTAssertGreaterThanOrEqual(elapsed, 0.3)
    }

    func testIdleConnectionsAreClosed() throws {
        let live = try LiveServer { $0.timeouts.idle = .milliseconds(200); $0.lingerTime = .milliseconds(200) }
        defer { live.stop() }
        let silent = try RawClient(port: live.port)
        let used = try RawClient(port: live.port)
        used.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(used.read(until: "hello\n").hasSuffix("hello\n"))
        XCTAssertTrue(silent.readToEnd().closed)
        XCTAssertTrue(used.readToEnd().closed, "keep-alive connection closed after its idle time")
        XCTAssertTrue(eventually { live.server.openConnections == 0 })
    }

    func testClientThatNeverReadsIsDroppedWhileOthersAreServed() throws {
        let live = try LiveServer { $0.timeouts.writeStall = .milliseconds(500); $0.writeBufferHighWater = 256 * 1024 }
        defer { live.stop() }
        let stuck = try RawClient(port: live.port, receiveBuffer: 4096)
        // Forty 4 MiB responses requested, none read: output backs up, reading pauses, the stall timer fires.
        stuck.send(String(repeating: "GET /big HTTP/1.1\r\nHost: x\r\n\r\n", count: 40))
        try assertStillServing(live)
        let h2 = try runClient("curl", ["-sS", "--http2-prior-knowledge", live.base + "/hello"])
        XCTAssertEqual(h2.stdout, "hello\n")
        XCTAssertTrue(eventually(timeout: 5) { live.server.openConnections == 0 }, "stalled connection not closed")
        XCTAssertLessThan(live.log.lines.filter { $0.contains("/big") }.count, 40, "reading must pause while output is stuck")
    }

    func testConnectionLimitRejectsExtraConnectionsOnly() throws {
        let live = try LiveServer { $0.maxConnections = 2 }
        defer { live.stop() }
        let first = try RawClient(port: live.port)
        let second = try RawClient(port: live.port)
        XCTAssertTrue(eventually { live.server.openConnections == 2 })
        let third = try RawClient(port: live.port)
        XCTAssertTrue(third.readToEnd().closed)
        XCTAssertEqual(live.server.rejectedConnections, 1)
        first.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(String(decoding: first.readToEnd().bytes, as: UTF8.self).hasSuffix("hello\n"))
        XCTAssertTrue(eventually { live.server.openConnections == 1 })
        try assertStillServing(live)
        _ = second
    }

    func testGracefulShutdownFinishesInFlightRequestsAndRefusesNewOnes() throws {
        let arrived = LogLines()
        let live = try LiveServer(handler: testRouter(laterDelay: 1500, laterArrived: { arrived.append("later") }))
        var h1: RawClient? = try RawClient(port: live.port)
        h1!.send("GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
        let h2 = DispatchQueue.global()
        let h2Result = LockedData()
        let h2Done = DispatchSemaphore(value: 0)
        let base = live.base
        h2.async {
            let r = try? runClient("curl", ["-sS", "--http2-prior-knowledge", base + "/later"])
            h2Result.set(Data((r?.stdout ?? "").utf8))
            h2Done.signal()
        }
        XCTAssertTrue(eventually(timeout: 10) { arrived.lines.count == 2 && live.server.openConnections == 2 }, "both /later requests reach the handler")
        let finished = DispatchSemaphore(value: 0)
        let began = Date()
        live.server.shutdown(gracePeriod: .seconds(8)) { finished.signal() }
        XCTAssertThrowsError(try RawClient(port: live.port), "listener must be closed")
        let text = String(decoding: h1!.readToEnd().bytes, as: UTF8.self)
        h1 = nil
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK"), text)
        XCTAssertTrue(text.contains("connection: close\r\n"), text)
        XCTAssertEqual(h2Done.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(String(decoding: h2Result.get(), as: UTF8.self), "later\n")
        XCTAssertEqual(finished.wait(timeout: .now() + 5), .success)
        XCTAssertLessThan(Date().timeIntervalSince(began), 5, "must not wait for the grace period when work is done")
    }
}

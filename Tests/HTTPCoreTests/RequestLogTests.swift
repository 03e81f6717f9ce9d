import Foundation
import XCTest
@testable import HTTPCore

final class RequestLogTests: XCTestCase {
    func testClientRequestIDIsKeptWhenWellFormedElseGenerated() {
        XCTAssertEqual(RequestID.resolve(["x-request-id": "abc-123"], generate: { "gen" }), "abc-123")
        XCTAssertEqual(RequestID.resolve([:], generate: { "gen" }), "gen")
        XCTAssertEqual(RequestID.resolve(["x-request-id": "has space"], generate: { "gen" }), "gen")
        XCTAssertEqual(RequestID.resolve(["x-request-id": String(repeating: "a", count: 129)], generate: { "gen" }), "gen")
        XCTAssertEqual(RequestID.resolve(["x-request-id": String(repeating: "a", count: 128)], generate: { "gen" }).count, 128)
        let random = RequestID.random()
        XCTAssertEqual(random.count, 32)
        XCTAssertTrue(random.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        XCTAssertNotEqual(random, RequestID.random())
        var generator = RequestIDGenerator(seed: 42)
        var again = RequestIDGenerator(seed: 42)
        let ids = (0..<1000).map { _ in generator.next() }
        XCTAssertEqual(Set(ids).count, 1000)
        XCTAssertEqual(ids[0], again.next(), "deterministic for a seed")
        XCTAssertTrue(ids.allSatisfy { $0.count == 32 && $0.allSatisfy { $0.isHexDigit && !$0.isUppercase } })
    }

    func testAccessLogLineFormatAndEscaping() {
        let entry = AccessLogEntry(time: Date(timeIntervalSince1970: 1_700_000_000.25), remoteAddress: "127.0.0.1:5000",
                                   method: "GET", target: "/a\"b\nc", version: .http2, status: 200, responseBytes: 17,
                                   durationSeconds: 0.0012346, requestID: "rid")
        XCTAssertEqual(entry.line, #"2023-11-14T22:13:20.250Z 127.0.0.1:5000 "GET /a\"b\x0ac HTTP/2" 200 17 1.235ms id=rid"#)
    }

    func testHTTPDateMatchesKnownValues() {
        XCTAssertEqual(HTTPDate.string(secondsSince1970: 784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT")  // RFC 9110 example
        XCTAssertEqual(HTTPDate.string(secondsSince1970: 0), "Thu, 01 Jan 1970 00:00:00 GMT")
        XCTAssertEqual(HTTPDate.string(secondsSince1970: 951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT")  // leap day
        XCTAssertEqual(HTTPDate.string(secondsSince1970: 4_102_444_799), "Thu, 31 Dec 2099 23:59:59 GMT")
        let cache = HTTPDateCache(now: { Date(timeIntervalSince1970: 784_111_777.9) })
        XCTAssertEqual(cache.current(), "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    func testDeadlinesFollowThePhaseClock() {
        let s: UInt64 = 1_000_000_000
        var t = DeadlineTracker(timeouts: HTTPTimeouts(idle: .seconds(60), requestRead: .seconds(10), writeStall: .seconds(30)), now: 0)
        XCTAssertEqual(t.next?.at, 60 * s)
        XCTAssertEqual(t.next?.reason, .idle)
        // First byte of a request at 5 s: the read deadline is fixed at 15 s however many bytes trickle in.
        t.update(phase: .readingRequest, now: 5 * s)
        t.update(phase: .readingRequest, now: 9 * s)
        t.update(phase: .readingRequest, now: 14 * s)
        XCTAssertNil(t.expired(now: 15 * s - 1))
        XCTAssertEqual(t.expired(now: 15 * s), .requestRead)
        // While a handler works there is no read deadline.
        t.update(phase: .handling, now: 16 * s)
        XCTAssertNil(t.next)
        // Output stuck since 20 s: the write-stall deadline applies even while handling; progress moves it.
        t.output(pending: true, progressed: false, now: 20 * s)
        t.output(pending: true, progressed: false, now: 40 * s)
        XCTAssertEqual(t.next?.at, 50 * s)
        t.output(pending: true, progressed: true, now: 45 * s)
        XCTAssertEqual(t.next?.at, 75 * s)
        t.output(pending: false, progressed: true, now: 46 * s)
        XCTAssertNil(t.next)
        // Back to idle at 50 s: a fresh idle period.
        t.update(phase: .idle, now: 50 * s)
        XCTAssertEqual(t.next?.at, 110 * s)
        XCTAssertEqual(t.expired(now: 110 * s), .idle)
    }

    func testHeadersAreCaseInsensitiveAndTokenAware() {
        var h: HTTPHeaders = ["Connection": "keep-alive, Upgrade"]
        XCTAssertEqual(h["connection"], "keep-alive, Upgrade")
        XCTAssertTrue(h.hasToken("upgrade", in: "CONNECTION"))
        XCTAssertFalse(h.hasToken("close", in: "connection"))
        h.set("X-A", "1")
        h.add("x-a", "2")
        XCTAssertEqual(h.values("x-a"), ["1", "2"])
        h.set("x-a", "3")
        XCTAssertEqual(h.values("X-A"), ["3"])
        XCTAssertEqual(HTTPRequest.split(target: "http://host:80/p/q?z=1").0, "/p/q")
        XCTAssertEqual(HTTPRequest.split(target: "http://host:80/p/q?z=1").1, "z=1")
        XCTAssertEqual(HTTPRequest.split(target: "https://host").0, "/")
    }
}

import XCTest
@testable import HTTPCore

/// Malformed and oversized HTTP/1.1 input: each case gets its status and a closed connection, never a handler call.
final class HTTP1LimitsTests: XCTestCase {
    private func rejection(_ input: String, limits: HTTPLimits = HTTPLimits(), chunk: Int = .max,
                           file: StaticString = #filePath, line: UInt = #line) -> Int? {
        let h = HTTP1Harness(limits: limits)
        h.feed(input, chunk: chunk)
        XCTAssertEqual(h.requests.count, 0, "handler saw a rejected request", file: file, line: line)
        XCTAssertTrue(h.engine.closeAfterOutput, "connection must close after a rejection", file: file, line: line)
        XCTAssertTrue(h.text.contains("connection: close\r\n"), file: file, line: line)
        return h.text.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    }

    private var small: HTTPLimits {
        var l = HTTPLimits()
        l.maxRequestLineBytes = 64
        l.maxHeadBytes = 256
        l.maxHeaderCount = 5
        l.maxBodyBytes = 32
        return l
    }

    func testMalformedRequestsGet400() {
        let cases = [
            "GET/ HTTP/1.1\r\nHost: x\r\n\r\n",                              // no space after method
            "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",                             // separator in method
            "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",                       // junk after version
            "GET / HTTP/1.1\r\n\r\n",                                        // HTTP/1.1 without Host
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",                 // two Hosts
            "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",             // space in field name
            "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n",         // obsolete line folding
            "GET / HTTP/1.1\r\nHost: x\r\nX: a\u{01}b\r\n\r\n",             // control character in value
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabc", // conflicting lengths
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
            "\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}\u{00}\u{01}\u{fc}\u{03}\u{03}\r\n\r\n",  // TLS hello on cleartext
        ]
        for input in cases {
            XCTAssertEqual(rejection(input), 400, input.debugDescription)
            XCTAssertEqual(rejection(input, chunk: 1), 400, "one byte at a time: " + input.debugDescription)
        }
    }

    func testLongRequestLineGets414EvenBeforeItEnds() {
        let long = "GET /" + String(repeating: "a", count: 100)
        XCTAssertEqual(rejection(long + " HTTP/1.1\r\nHost: x\r\n\r\n", limits: small), 414)
        XCTAssertEqual(rejection(long, limits: small, chunk: 1), 414, "must not wait for the end of the line")
    }

    func testOversizedHeadGets431() {
        let big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "b", count: 300) + "\r\n\r\n"
        XCTAssertEqual(rejection(big, limits: small), 431)
        let unterminated = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "b", count: 300)
        XCTAssertEqual(rejection(unterminated, limits: small, chunk: 1), 431)
        let many = "GET / HTTP/1.1\r\nHost: x\r\n" + (0..<6).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        XCTAssertEqual(rejection(many, limits: small), 431)
    }

    func testOversizedBodiesGet413() {
        XCTAssertEqual(rejection("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 33\r\n\r\n", limits: small), 413)
        let chunked = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "10\r\n" + String(repeating: "c", count: 16) + "\r\n" + "11\r\n" + String(repeating: "c", count: 17) + "\r\n0\r\n\r\n"
        XCTAssertEqual(rejection(chunked, limits: small, chunk: 3), 413)
    }

    func testUnsupportedVersionCodingAndExpectation() {
        XCTAssertEqual(rejection("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505)
        XCTAssertEqual(rejection("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501)
        XCTAssertEqual(rejection("POST / HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n"), 417)
    }

    func testLimitsAreExactBoundaries() {
        var limits = small
        limits.maxBodyBytes = 5
        let h = HTTP1Harness(limits: limits)
        h.feed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n12345")
        XCTAssertEqual(h.requests.map(\.bodyText), ["12345"], "a body of exactly the limit is accepted")
        let line = "GET /" + String(repeating: "a", count: 64 - "GET / HTTP/1.1".count) + " HTTP/1.1"
        XCTAssertEqual(line.count, 64)
        let ok = HTTP1Harness(limits: small)
        ok.feed(line + "\r\nHost: x\r\n\r\n")
        XCTAssertEqual(ok.requests.count, 1, "a request line of exactly the limit is accepted")
    }

    func testErrorBodiesNameTheProblem() {
        let h = HTTP1Harness()
        h.feed("GET / HTTP/1.1\r\n\r\n")
        XCTAssertTrue(h.text.hasSuffix("bad request: missing Host header\n"), h.text)
    }
}

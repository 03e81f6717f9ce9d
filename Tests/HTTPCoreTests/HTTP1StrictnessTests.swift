import XCTest
@testable import HTTPCore

/// Issue 11: hostile HTTP/1.1 input. Each case gets an exact status and a closed connection, for every chunking.
final class HTTP1StrictnessTests: XCTestCase {
    private func outcome(_ input: String, chunk: Int = .max) -> HTTP1Harness {
        let h = HTTP1Harness()
        h.feed(input, chunk: chunk)
        return h
    }

    private func assertRejected(_ input: String, _ status: Int, _ why: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        for chunk in [1, 2, 5, .max] {
            let h = outcome(input, chunk: chunk)
            XCTAssertEqual(h.requests.count, 0, "handler saw \(input.debugDescription)", file: file, line: line)
            XCTAssertTrue(h.engine.closeAfterOutput, file: file, line: line)
            let body = "bad request: \(why)\n"
            XCTAssertEqual(h.text, expected(status, body, extra: "connection: close\r\n"),
                           "chunk \(chunk): \(input.debugDescription)", file: file, line: line)
        }
    }

    /// The 73-byte request that used to kill the process (overflow trap in the chunk-size parser).
    func testHugeChunkSizeIsA400NotACrash() {
        let killer = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\n"
        XCTAssertEqual(killer.utf8.count, 73)
        assertRejected(killer, 400, "chunk size line not ended by CRLF")
        assertRejected(killer.dropLast() + "\r\n", 400, "chunk size too large")
        assertRejected("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n", 400,
                       "chunk size too large")
        // Fifteen digits parse (and then exceed the body limit): the boundary is the digit count, not a trap.
        let h = outcome("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n")
        XCTAssertTrue(h.text.hasPrefix("HTTP/1.1 413 "), h.text)
    }

    func testBareLFInAHeaderLineIsRefusedNotSplitIntoTwoFields() {
        assertRejected("POST / HTTP/1.1\r\nHost: x\r\nX-A: a\nContent-Length: 5\r\n\r\nhello", 400, "bare LF in request head")
        assertRejected("GET / HTTP/1.1\nHost: x\r\n\r\n", 400, "bare LF in request head")
        assertRejected("GET / HTTP/1.1\r\nHost: x\n\n", 400, "bare LF in request head")
    }

    func testBareLFInChunkLinesIsRefused() {
        let head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        assertRejected(head + "3\nabc\r\n0\r\n\r\n", 400, "chunk size line not ended by CRLF")
        assertRejected(head + "3\r\nabc\n0\r\n\r\n", 400, "chunk data not followed by CRLF")
        assertRejected(head + "3\r\nabc\r\n0\r\n\n", 400, "trailer line not ended by CRLF")
        assertRejected(head + "3\r\nabc\r\n0\r\nX-T: 1\n\r\n", 400, "trailer line not ended by CRLF")
    }

    func testChunkExtensionsAreCheckedAndBounded() {
        let head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        assertRejected(head + "3;a=\u{0}\r\nabc\r\n0\r\n\r\n", 400, "control character in chunk extension")
        assertRejected(head + "3;a=\rb\r\nabc\r\n0\r\n\r\n", 400, "control character in chunk extension")
        // Well-formed extensions are ignored.
        let ok = outcome(head + "3;name=\"v\"\r\nabc\r\n2 ; x\r\nde\r\n0\r\n\r\n")
        XCTAssertEqual(ok.text, expected(200, "POST / abcde"))
        // Many small chunks, each line within its own limit, still cannot carry unbounded extension bytes.
        let ext = ";" + String(repeating: "e", count: 999)
        let many = String(repeating: "1\(ext)\r\na\r\n", count: 5) + "0\r\n\r\n"
        assertRejected(head + many, 400, "chunk extensions larger than the limit")
        let fits = outcome(head + String(repeating: "1\(ext)\r\na\r\n", count: 4) + "0\r\n\r\n")
        XCTAssertEqual(fits.text, expected(200, "POST / aaaa"), "4,000 extension bytes are within the 4,096 limit")
    }

    func testTargetsMustBeOriginAbsoluteOrAsteriskForm() {
        assertRejected("GET index.html HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request target must start with '/'")
        assertRejected("GET x.example:80 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request target must start with '/'")
        assertRejected("GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request target must start with '/'")
        XCTAssertEqual(outcome("GET http://x/a?b HTTP/1.1\r\nHost: x\r\n\r\n").requests.map(\.path), ["/a"])
        XCTAssertEqual(outcome("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").requests.map(\.target), ["*"])
    }
}

import XCTest
@testable import HTTPCore

/// Drives an `HTTP1Engine` with scripted chunks and answers each request with `answer`.
final class HTTP1Harness {
    let engine: HTTP1Engine
    var requests: [HTTPRequest] = []
    var output: [UInt8] = []
    var answer: ((Int64, HTTPRequest) -> ResponsePart?)?

    init(limits: HTTPLimits = HTTPLimits(), answer: ((Int64, HTTPRequest) -> ResponsePart?)? = { _, r in
        .complete(HTTPResponse(text: "\(r.method) \(r.target) \(r.bodyText)"))
    }) {
        engine = HTTP1Engine(limits: limits, date: { fixedDate })
        self.answer = answer
    }

    func feed(_ text: String, chunk: Int = .max) { feed(Array(text.utf8), chunk: chunk) }

    func feed(_ bytes: [UInt8], chunk: Int = .max) {
        var i = 0
        while i < bytes.count {
            let end = min(bytes.count, i + chunk)
            engine.receive(Array(bytes[i..<end]))
            i = end
            serve()
        }
    }

    func serve() {
        while true {
            let batch = engine.takeRequests()
            if batch.isEmpty { break }
            for (id, request) in batch {
                requests.append(request)
                if let part = answer?(id, request) { engine.send(part, for: id) }
            }
        }
        engine.takeOutput(into: &output)
    }

    var text: String { String(decoding: output, as: UTF8.self) }
}

func expected(_ status: Int, _ body: String, extra: String = "", type: String = "text/plain; charset=utf-8") -> String {
    "HTTP/1.1 \(status) \(HTTPStatus.reason(status))\r\ncontent-type: \(type)\r\n\(extra)content-length: \(body.utf8.count)\r\n"
        + "date: \(fixedDate)\r\n\r\n\(body)"
}

final class HTTP1EngineTests: XCTestCase {
    let pipelined = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        + "GET /c?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"

    func testPipelinedRequestsAreAnsweredInOrderForEveryChunking() {
        let want = expected(200, "GET /a ") + expected(200, "POST /b abc") + expected(200, "GET /c?q=1 ")
        for chunk in [1, 2, 3, 7, 64, .max] {
            let h = HTTP1Harness()
            h.feed(pipelined, chunk: chunk)
            XCTAssertEqual(h.text, want, "chunk size \(chunk)")
            XCTAssertEqual(h.requests.map(\.path), ["/a", "/b", "/c"])
            XCTAssertEqual(h.requests[2].query, "q=1")
            XCTAssertEqual(h.engine.phase, .idle)
        }
    }

    func testNextPipelinedRequestWaitsForTheResponseBeforeIt() {
        var pending: [Int64] = []
        let h = HTTP1Harness(answer: { id, _ in pending.append(id); return nil })
        h.feed(pipelined)
        XCTAssertEqual(h.requests.count, 1, "only one request may be outstanding")
        XCTAssertEqual(h.engine.phase, .handling)
        h.engine.send(.complete(HTTPResponse(text: "one")), for: pending[0])
        h.serve()
        XCTAssertEqual(h.requests.count, 2)
        XCTAssertEqual(h.requests[1].bodyText, "abc")
        // An answer for an id that is not outstanding is ignored.
        h.engine.send(.complete(HTTPResponse(text: "stale")), for: pending[0])
        h.serve()
        XCTAssertEqual(h.text, expected(200, "one"))
    }

    func testFieldsAreParsedTrimmedAndLowercased() {
        let h = HTTP1Harness()
        h.feed("GET /p HTTP/1.1\r\nHost:  example.org \r\nX-Custom-Thing:\tv1, v2\t\r\nx-custom-thing: v3\r\n\r\n", chunk: 1)
        let r = h.requests[0]
        XCTAssertEqual(r.authority, "example.org")
        XCTAssertEqual(r.headers.values("X-CUSTOM-THING"), ["v1, v2", "v3"])
        XCTAssertEqual(r.headers.fields.map(\.name), ["host", "x-custom-thing", "x-custom-thing"])
        XCTAssertEqual(r.version, .http1_1)
    }

    func testChunkedBodyWithExtensionsAndTrailersOneByteAtATime() {
        let request = "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=val\r\nhello\r\n1A\r\n, world, in chunked form!!\r\n0\r\nX-Trailer: t\r\n\r\n"
        for chunk in [1, 5, .max] {
            let h = HTTP1Harness()
            h.feed(request + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n", chunk: chunk)
            XCTAssertEqual(h.requests.map(\.bodyText), ["hello, world, in chunked form!!", ""], "chunk \(chunk)")
        }
    }

    func testExpectContinueSends100BeforeTheBody() {
        let h = HTTP1Harness()
        h.feed("PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        XCTAssertEqual(h.text, "HTTP/1.1 100 Continue\r\n\r\n")
        XCTAssertEqual(h.engine.phase, .readingRequest)
        h.feed("data")
        XCTAssertEqual(h.text, "HTTP/1.1 100 Continue\r\n\r\n" + expected(200, "PUT /e data"))
    }

    func testExpectContinueWithTooLargeBodyGets413WithoutContinue() {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 10
        let h = HTTP1Harness(limits: limits)
        h.feed("PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n")
        XCTAssertEqual(h.text, expected(413, "request body larger than the limit\n", extra: "connection: close\r\n"))
        XCTAssertTrue(h.engine.closeAfterOutput)
    }

    func testConnectionCloseAndHTTP10KeepAliveSemantics() {
        let close = HTTP1Harness()
        close.feed("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(close.text, expected(200, "GET / ", extra: "connection: close\r\n"))
        XCTAssertEqual(close.requests.count, 1)
        XCTAssertEqual(close.engine.phase, .closing)

        let old = HTTP1Harness()
        old.feed("GET /a HTTP/1.0\r\n\r\n")
        XCTAssertTrue(old.text.contains("connection: close\r\n"))
        XCTAssertTrue(old.engine.closeAfterOutput)

        let kept = HTTP1Harness()
        kept.feed("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n")
        XCTAssertEqual(kept.requests.map(\.path), ["/a", "/b"])
        XCTAssertTrue(kept.text.hasPrefix(expected(200, "GET /a ", extra: "connection: keep-alive\r\n")))
        XCTAssertTrue(kept.engine.closeAfterOutput)
    }

    func testHandlerAskingToCloseEndsTheConnection() {
        let h = HTTP1Harness(answer: { _, _ in .complete(HTTPResponse(headers: ["connection": "close"], body: [])) })
        h.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(h.requests.count, 1)
        XCTAssertEqual(h.text, "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\ndate: \(fixedDate)\r\n\r\n")
    }

    func testHeadAnd204CarryNoBody() {
        let h = HTTP1Harness(answer: { _, r in
            .complete(r.path == "/none" ? HTTPResponse(status: 204, body: Array("x".utf8)) : HTTPResponse(text: "12345"))
        })
        h.feed("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /none HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(h.text, "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 5\r\ndate: \(fixedDate)\r\n\r\n"
            + "HTTP/1.1 204 No Content\r\ndate: \(fixedDate)\r\n\r\n")
    }

    func testStreamedResponseUsesChunkedEncoding() {
        var id: Int64 = 0
        let h = HTTP1Harness(answer: { i, _ in id = i; return nil })
        h.feed("GET /s HTTP/1.1\r\nHost: x\r\n\r\n")
        h.engine.send(.head(HTTPResponseHead(status: 200)), for: id)
        h.engine.send(.body(Array("hello ".utf8)), for: id)
        h.engine.send(.body(Array("streaming world".utf8)), for: id)
        XCTAssertEqual(h.engine.phase, .handling)
        h.engine.send(.end, for: id)
        h.serve()
        XCTAssertEqual(h.text, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ndate: \(fixedDate)\r\n\r\n"
            + "6\r\nhello \r\nf\r\nstreaming world\r\n0\r\n\r\n")
        XCTAssertEqual(h.engine.phase, .idle)
    }

    func testHalfClosedClientStillGetsItsResponseThenTheConnectionCloses() {
        var id: Int64 = 0
        let h = HTTP1Harness(answer: { i, _ in id = i; return nil })
        h.feed("GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        h.engine.receiveEnd()
        XCTAssertFalse(h.engine.closeAfterOutput)
        h.engine.send(.complete(HTTPResponse(text: "late")), for: id)
        h.serve()
        XCTAssertEqual(h.text, expected(200, "late"))
        XCTAssertTrue(h.engine.closeAfterOutput)
    }

    func testTruncatedRequestAtEndOfInputClosesWithoutAnswer() {
        let h = HTTP1Harness()
        h.feed("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        h.engine.receiveEnd()
        h.serve()
        XCTAssertEqual(h.requests.count, 0)
        XCTAssertEqual(h.text, "")
        XCTAssertTrue(h.engine.closeAfterOutput)
    }

    func testTimeoutDuringARequestAnswers408() {
        let h = HTTP1Harness()
        h.feed("GET /slow HTTP/1.1\r\nHost: x\r\nX-A: ")
        XCTAssertEqual(h.engine.phase, .readingRequest)
        h.engine.timedOut()
        h.serve()
        XCTAssertEqual(h.text, expected(408, "request not received in time\n", extra: "connection: close\r\n"))
    }

    func testPipelinedInputBeyondTheBufferLimitPausesReading() {
        var limits = HTTPLimits()
        limits.maxBufferedInputBytes = 100
        let h = HTTP1Harness(limits: limits, answer: { _, _ in nil })
        h.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(h.engine.wantsInput)
        h.feed(String(repeating: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", count: 5))
        XCTAssertFalse(h.engine.wantsInput)
    }

    func testPipelinedRequestsWaitWhileOutputPilesUp() {
        let engine = HTTP1Engine(outputHighWater: 1000, date: { fixedDate })
        engine.receive(Array(String(repeating: "GET /big HTTP/1.1\r\nHost: x\r\n\r\n", count: 3).utf8))
        var delivered = 0
        func answerAll() {
            for (id, _) in engine.takeRequests() {
                delivered += 1
                engine.send(.complete(HTTPResponse(body: [UInt8](repeating: 1, count: 2000))), for: id)
            }
        }
        answerAll()
        XCTAssertEqual(delivered, 1, "the second request must wait until the first response is taken")
        XCTAssertEqual(engine.phase, .handling)
        var sink: [UInt8] = []
        engine.takeOutput(into: &sink)
        answerAll()
        XCTAssertEqual(delivered, 2)
        engine.takeOutput(into: &sink)
        answerAll()
        engine.takeOutput(into: &sink)
        XCTAssertEqual(delivered, 3)
        XCTAssertEqual(engine.phase, .idle)
        XCTAssertEqual(String(decoding: sink, as: UTF8.self).components(separatedBy: "HTTP/1.1 200 OK").count, 4)
    }

    func testGracefulShutdownClosesAfterTheCurrentResponse() {
        var id: Int64 = 0
        let h = HTTP1Harness(answer: { i, _ in id = i; return nil })
        h.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        h.engine.beginGracefulShutdown()
        XCTAssertFalse(h.engine.closeAfterOutput)
        h.engine.send(.complete(HTTPResponse(text: "last")), for: id)
        h.serve()
        XCTAssertEqual(h.text, expected(200, "last", extra: "connection: close\r\n"))
        XCTAssertTrue(h.engine.closeAfterOutput)

        let idle = HTTP1Harness()
        idle.engine.beginGracefulShutdown()
        XCTAssertEqual(idle.engine.phase, .closing)
    }
}

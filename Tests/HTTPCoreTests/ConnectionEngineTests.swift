import XCTest
@testable import HTTPCore

final class ConnectionEngineTests: XCTestCase {
    private func output(_ engine: ConnectionEngine) -> [UInt8] {
        var out: [UInt8] = []
        engine.takeOutput(into: &out, limit: .max)
        return out
    }

    func testPrefaceFedOneByteAtATimeSelectsHTTP2() {
        let engine = ConnectionEngine(date: { fixedDate })
        let client = H2TestClient()
        let id = client.request("GET", "/h2c")
        let bytes = client.output()
        XCTAssertTrue(bytes.starts(with: ConnectionEngine.preface), "the nghttp2 client sends the preface itself")
        for (i, b) in bytes.enumerated() {
            engine.receive([b])
            if i < ConnectionEngine.preface.count - 1 {
                XCTAssertNil(engine.wireProtocol, "decided after \(i + 1) bytes")
            }
        }
        XCTAssertEqual(engine.wireProtocol, .http2)
        let requests = engine.takeRequests()
        XCTAssertEqual(requests.map(\.request.path), ["/h2c"])
        engine.send(.complete(HTTPResponse(text: "over h2c")), for: requests[0].id)
        client.receive(output(engine))
        XCTAssertEqual(client.responses[id]?.status, 200)
        XCTAssertEqual(client.responses[id].map { String(decoding: $0.body, as: UTF8.self) }, "over h2c")
    }

    func testHTTP1RequestIsDetectedAtTheFirstDifferingByte() {
        let engine = ConnectionEngine(date: { fixedDate })
        engine.receive(Array("P".utf8))
        XCTAssertNil(engine.wireProtocol, "'P' could still be the preface")
        XCTAssertEqual(engine.phase, .readingRequest)
        engine.receive(Array("OST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi".utf8))
        XCTAssertEqual(engine.wireProtocol, .http1)
        let requests = engine.takeRequests()
        XCTAssertEqual(requests.map(\.request.method), ["POST"])
        XCTAssertEqual(requests.first?.request.bodyText, "hi")
    }

    func testNearMissOfThePrefaceIsHTTP1AndRejected() {
        let engine = ConnectionEngine(date: { fixedDate })
        engine.receive(Array("PRI * HTTP/2.0\r\n\r\nSX\r\n\r\n".utf8))
        XCTAssertEqual(engine.wireProtocol, .http1)
        XCTAssertEqual(engine.takeRequests().count, 0)
        let text = String(decoding: output(engine), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 505"), text)
        XCTAssertTrue(engine.isFinished)
    }

    func testALPNChoosesTheProtocolWithoutLookingAtBytes() {
        XCTAssertEqual(ConnectionEngine(alpn: "h2", date: { fixedDate }).wireProtocol, .http2)
        XCTAssertEqual(ConnectionEngine(alpn: "http/1.1", date: { fixedDate }).wireProtocol, .http1)
        XCTAssertNil(ConnectionEngine(alpn: nil, date: { fixedDate }).wireProtocol)
    }

    func testShutdownOfAConnectionThatSentNothingFinishesAtOnce() {
        let engine = ConnectionEngine(date: { fixedDate })
        XCTAssertEqual(engine.phase, .idle)
        XCTAssertFalse(engine.isFinished)
        engine.beginGracefulShutdown()
        XCTAssertTrue(engine.isFinished)
    }

    func testEndOfInputBeforeAnyRequestFinishes() {
        let engine = ConnectionEngine(date: { fixedDate })
        engine.receive(Array("PR".utf8))
        engine.receiveEnd()
        XCTAssertTrue(engine.isFinished)
    }
}

import CNghttp2
import XCTest
@testable import HTTPCore

final class HTTP2SessionTests: XCTestCase {
    private func makeServer(_ configure: (inout HTTPLimits) -> Void = { _ in }) -> HTTP2Session {
        var limits = HTTPLimits()
        configure(&limits)
        return HTTP2Session(limits: limits, date: { fixedDate })
    }

    func testClientFramesFedOneByteAtATimeGiveOneRequestAndItsResponse() {
        let server = makeServer()
        let client = H2TestClient()
        let id = client.request("POST", "/items/7?x=1", headers: [("x-trace", "abc")], body: Array("hello".utf8))
        var seen: [HTTPRequest] = []
        pump(client, server, chunk: 1) { sid, request in
            seen.append(request)
            server.send(.complete(HTTPResponse(status: 201, headers: ["content-type": "text/plain"], body: Array("made".utf8))), for: sid)
        }
        XCTAssertEqual(seen.count, 1)
        XCTAssertEqual(seen[0].method, "POST")
        XCTAssertEqual(seen[0].path, "/items/7")
        XCTAssertEqual(seen[0].query, "x=1")
        XCTAssertEqual(seen[0].authority, "test.local")
        XCTAssertEqual(seen[0].version, .http2)
        XCTAssertEqual(seen[0].headers["x-trace"], "abc")
        XCTAssertEqual(seen[0].bodyText, "hello")
        let response = client.responses[id]!
        XCTAssertEqual(response.status, 201)
        XCTAssertEqual(response.header("content-length"), "4")
        XCTAssertEqual(response.header("date"), fixedDate)
        XCTAssertEqual(response.header("content-type"), "text/plain")
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), "made")
        XCTAssertTrue(response.closed)
        XCTAssertEqual(response.errorCode, 0)
        XCTAssertEqual(server.phase, .idle)
    }

    func testServerAdvertisesItsLimitsInSettings() {
        let server = makeServer { $0.maxConcurrentStreams = 16; $0.initialWindowSize = 100_000 }
        let client = H2TestClient()
        pump(client, server)
        XCTAssertEqual(nghttp2_session_get_remote_settings(client.session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS), 16)
        XCTAssertEqual(nghttp2_session_get_remote_settings(client.session, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE), 100_000)
    }

    func testTwoHundredStreamsAnsweredLateInReverseOrderWithinTheConcurrencyLimit() {
        let server = makeServer { $0.maxConcurrentStreams = 16 }
        let client = H2TestClient()
        pump(client, server)  // SETTINGS exchange first, so the client knows the limit before opening streams
        let ids = (0..<200).map { client.request("GET", "/n/\($0)") }
        var maxOpen = 0
        var waiting: [(Int64, HTTPRequest)] = []
        for _ in 0..<100 {
            pump(client, server) { id, request in waiting.append((id, request)) }
            maxOpen = max(maxOpen, server.openStreamCount)
            if waiting.isEmpty { break }
            // Answer everything collected so far, newest first, after the session has gone quiet (deferred answers).
            for (id, request) in waiting.reversed() {
                server.send(.complete(HTTPResponse(text: request.path)), for: id)
            }
            waiting.removeAll()
        }
        XCTAssertLessThanOrEqual(maxOpen, 16)
        for (n, id) in ids.enumerated() {
            XCTAssertEqual(client.responses[id]?.status, 200, "stream \(id)")
            XCTAssertEqual(client.responses[id].map { String(decoding: $0.body, as: UTF8.self) }, "/n/\(n)")
        }
    }

    func testStreamedBodyIsDeferredUntilPartsArriveAndResumes() {
        let server = makeServer()
        let client = H2TestClient()
        let id = client.request("GET", "/stream")
        var sid: Int64 = 0
        pump(client, server) { s, _ in sid = s }
        server.send(.head(HTTPResponseHead(status: 200, headers: ["content-type": "text/plain"])), for: sid)
        pump(client, server)
        // Headers went out; the data provider found nothing and deferred, so no DATA and the stream stays open.
        XCTAssertEqual(client.responses[id]?.status, 200)
        XCTAssertEqual(client.responses[id]?.body, [])
        XCTAssertFalse(client.responses[id]!.closed)
        XCTAssertEqual(server.phase, .handling)
        server.send(.body(Array("part one, ".utf8)), for: sid)
        pump(client, server)
        XCTAssertEqual(String(decoding: client.responses[id]!.body, as: UTF8.self), "part one, ")
        XCTAssertFalse(client.responses[id]!.closed)
        server.send(.body(Array("part two".utf8)), for: sid)
        server.send(.end, for: sid)
        pump(client, server)
        XCTAssertEqual(String(decoding: client.responses[id]!.body, as: UTF8.self), "part one, part two")
        XCTAssertTrue(client.responses[id]!.closed)
        XCTAssertNil(client.responses[id]!.header("content-length"))
    }

    func testLargeResponseRespectsTheClientsFlowControlWindow() {
        let server = makeServer()
        let window: UInt32 = 16_384
        let client = H2TestClient(settings: [(Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), window)])
        let id = client.request("GET", "/big")
        var sid: Int64 = 0
        pump(client, server) { s, _ in sid = s }
        let body = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        server.send(.complete(HTTPResponse(body: body)), for: sid)
        // Without WINDOW_UPDATEs from the client the server may send at most one window of DATA.
        var burst: [UInt8] = []
        server.takeOutput(into: &burst, limit: .max)
        XCTAssertLessThan(burst.count, Int(window) + 2_000, "server ignored the stream window")
        XCTAssertGreaterThan(burst.count, Int(window))
        client.receive(burst)
        pump(client, server)
        XCTAssertEqual(client.responses[id]?.body.count, body.count)
        XCTAssertEqual(client.responses[id]?.body, body)
    }

    func testLargeUploadBeyondTheDefaultWindowArrivesWhole() {
        let server = makeServer { $0.maxBodyBytes = 4 << 20 }
        let client = H2TestClient()
        let upload = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 >> 3) }
        client.request("PUT", "/upload", body: upload)
        var received: [UInt8] = []
        pump(client, server, chunk: 7_001) { id, request in
            received = request.body
            server.send(.complete(HTTPResponse(status: 204)), for: id)
        }
        XCTAssertEqual(received.count, upload.count)
        XCTAssertEqual(received, upload)
    }

    func testOversizedBodyGets413AndTheHandlerNeverSeesIt() {
        let server = makeServer { $0.maxBodyBytes = 1000 }
        let client = H2TestClient()
        let big = client.request("POST", "/x", body: [UInt8](repeating: 1, count: 5000))
        let small = client.request("POST", "/y", body: [UInt8](repeating: 1, count: 10))
        var paths: [String] = []
        pump(client, server) { id, request in
            paths.append(request.path)
            server.send(.complete(HTTPResponse(text: "ok")), for: id)
        }
        XCTAssertEqual(paths, ["/y"])
        XCTAssertEqual(client.responses[big]?.status, 413)
        XCTAssertEqual(client.responses[small]?.status, 200)
    }

    func testOversizedHeaderListGets431() {
        let server = makeServer { $0.maxHeadBytes = 2000 }
        let client = H2TestClient()
        let id = client.request("GET", "/h", headers: (0..<40).map { ("x-f\($0)", String(repeating: "v", count: 60)) })
        var calls = 0
        pump(client, server) { _, _ in calls += 1 }
        XCTAssertEqual(calls, 0)
        XCTAssertEqual(client.responses[id]?.status, 431)
    }

    func testGracefulShutdownSendsGoawayWithLastStreamAndStillAnswersIt() {
        let server = makeServer()
        let client = H2TestClient()
        let first = client.request("GET", "/a")
        let second = client.request("GET", "/b")
        var pending: [Int64] = []
        pump(client, server) { id, _ in pending.append(id) }
        XCTAssertEqual(pending.count, 2)
        server.beginGracefulShutdown()
        pump(client, server)
        XCTAssertEqual(client.goawayLastStreamID, second)
        XCTAssertEqual(client.goawayErrorCode, NGHTTP2_NO_ERROR.rawValue)
        XCTAssertFalse(server.isFinished, "in-flight streams must still be answered")
        for id in pending { server.send(.complete(HTTPResponse(text: "bye")), for: id) }
        pump(client, server)
        XCTAssertEqual(client.responses[first]?.status, 200)
        XCTAssertEqual(client.responses[second]?.status, 200)
        XCTAssertTrue(server.isFinished)
    }

    func testGarbageAfterThePrefaceEndsTheSessionWithGoaway() {
        let server = makeServer()
        let client = H2TestClient()
        pump(client, server)
        // A frame header declaring a 16 MiB HEADERS frame on stream 0: a connection error.
        server.receive([0xFF, 0xFF, 0xFF, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00] + [UInt8](repeating: 0xAB, count: 64))
        var out: [UInt8] = []
        server.takeOutput(into: &out, limit: .max)
        client.receive(out)
        XCTAssertNotNil(client.goawayErrorCode)
        XCTAssertNotEqual(client.goawayErrorCode, NGHTTP2_NO_ERROR.rawValue)
        XCTAssertTrue(server.isFinished)
    }

    func testBadPrefaceIsFatal() {
        let server = makeServer()
        server.receive(Array("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n".utf8))
        XCTAssertNotNil(server.failure)
        XCTAssertTrue(server.isFinished)
    }

    func testTruncatedFrameWaitsForTheRestThenCompletes() {
        let server = makeServer()
        let client = H2TestClient()
        let id = client.request("GET", "/t")
        let bytes = client.output()
        server.receive(Array(bytes.dropLast(3)))
        XCTAssertTrue(server.takeRequests().isEmpty)
        XCTAssertFalse(server.isFinished)
        server.receive(Array(bytes.suffix(3)))
        let requests = server.takeRequests()
        XCTAssertEqual(requests.map(\.request.path), ["/t"])
        server.send(.complete(HTTPResponse(text: "t")), for: requests[0].id)
        pump(client, server)
        XCTAssertEqual(client.responses[id]?.status, 200)
    }

    func testResponseForAResetStreamIsIgnored() {
        let server = makeServer()
        let client = H2TestClient()
        let id = client.request("GET", "/slow")
        var sid: Int64 = 0
        pump(client, server) { s, _ in sid = s }
        nghttp2_submit_rst_stream(client.session, 0, id, NGHTTP2_CANCEL.rawValue)
        pump(client, server)
        XCTAssertEqual(server.openStreamCount, 0)
        server.send(.complete(HTTPResponse(text: "late")), for: sid)
        var out: [UInt8] = []
        server.takeOutput(into: &out, limit: .max)
        XCTAssertEqual(out, [], "nothing may be sent on a closed stream")
        XCTAssertEqual(server.phase, .idle)
    }

    func testHeadResponseCarriesLengthButNoData() {
        let server = makeServer()
        let client = H2TestClient()
        let id = client.request("HEAD", "/h")
        pump(client, server) { sid, _ in server.send(.complete(HTTPResponse(body: Array("12345".utf8))), for: sid) }
        XCTAssertEqual(client.responses[id]?.status, 200)
        XCTAssertEqual(client.responses[id]?.header("content-length"), "5")
        XCTAssertEqual(client.responses[id]?.body, [])
        XCTAssertTrue(client.responses[id]!.closed)
    }
}

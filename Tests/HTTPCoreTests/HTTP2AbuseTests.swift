import CNghttp2
import XCTest
@testable import HTTPCore

/// Issue 11: HTTP/2 abuse limits and slow reads, socket-free (real nghttp2 client frames in, frames out).
final class HTTP2AbuseTests: XCTestCase {
    private let calm = NGHTTP2_ENHANCE_YOUR_CALM.rawValue

    private func makeServer(now: @escaping () -> UInt64 = { 0 }, _ configure: (inout HTTPLimits) -> Void = { _ in }) -> HTTP2Session {
        var limits = HTTPLimits()
        configure(&limits)
        return HTTP2Session(limits: limits, date: { fixedDate }, clock: now)
    }

    /// A request whose content-length promises a body its END_STREAM denies: nghttp2 resets the stream itself
    /// (PROTOCOL_ERROR), a reset the client provoked on purpose.
    private func provokeReset(_ client: H2TestClient) -> Int32 {
        client.request("POST", "/r", headers: [("content-length", "5")])
    }

    func testServerSentResetsCountTowardTheGoawayLimit() {
        let server = makeServer(now: { 0 }) { $0.maxResetBurst = 20 }
        let client = H2TestClient()
        pump(client, server)
        var calls = 0
        let first = (0..<20).map { _ in provokeReset(client) }
        pump(client, server) { _, _ in calls += 1 }
        XCTAssertEqual(first.map { client.responses[$0]?.errorCode }, Array(repeating: NGHTTP2_PROTOCOL_ERROR.rawValue, count: 20))
        XCTAssertNil(client.goawayErrorCode, "20 resets are within the burst")
        XCTAssertEqual(server.resetsSent, 20)
        _ = provokeReset(client)
        pump(client, server) { _, _ in calls += 1 }
        XCTAssertEqual(calls, 0)
        XCTAssertEqual(client.goawayErrorCode, calm)
        XCTAssertEqual(server.failure, "too many stream resets (21 sent, 0 received)")
        XCTAssertTrue(server.isFinished)
    }

    func testClientAndServerResetsShareOneBucketThatRefillsOverTime() {
        var now: UInt64 = 0
        let server = makeServer(now: { now }) { $0.maxResetBurst = 10; $0.resetsPerSecond = 2 }
        let client = H2TestClient()
        pump(client, server)
        var sids: [Int64] = []
        for _ in 0..<5 { _ = client.request("GET", "/slow") }
        pump(client, server) { sid, _ in sids.append(sid) }
        for sid in sids { nghttp2_submit_rst_stream(client.session, 0, Int32(sid), NGHTTP2_CANCEL.rawValue) }
        for _ in 0..<5 { _ = provokeReset(client) }
        pump(client, server)
        XCTAssertEqual(server.resetsReceived, 5)
        XCTAssertEqual(server.resetsSent, 5)
        XCTAssertNil(client.goawayErrorCode, "10 resets fill but do not exceed the burst of 10")
        now += 1_000_000_000  // one second: two tokens back
        for _ in 0..<2 { _ = provokeReset(client) }
        pump(client, server)
        XCTAssertNil(client.goawayErrorCode)
        _ = provokeReset(client)
        pump(client, server)
        XCTAssertEqual(client.goawayErrorCode, calm)
        XCTAssertEqual(server.failure, "too many stream resets (8 sent, 5 received)")
    }

    func testRepeated431RefusalsCloseTheConnection() {
        let server = makeServer(now: { 0 }) { $0.maxHeadBytes = 2000; $0.maxRefusalsPerConnection = 3 }
        let client = H2TestClient()
        let bomb = (0..<40).map { ("x-f\($0)", String(repeating: "v", count: 60)) }
        var calls = 0
        let ids = (0..<3).map { _ in client.request("GET", "/h", headers: bomb) }
        pump(client, server) { _, _ in calls += 1 }
        XCTAssertEqual(ids.map { client.responses[$0]?.status }, [431, 431, 431])
        XCTAssertNil(client.goawayErrorCode)
        let fourth = client.request("GET", "/h", headers: bomb)
        pump(client, server) { _, _ in calls += 1 }
        XCTAssertEqual(calls, 0)
        XCTAssertEqual(client.goawayErrorCode, calm)
        XCTAssertNotEqual(client.responses[fourth]?.status, 431, "the fourth is not answered, the connection ends")
        XCTAssertEqual(server.refusals, 4)
        XCTAssertEqual(server.failure, "4 requests refused on one connection (431/413)")
    }

    /// Slow read: a client that keeps its window at zero holds the response; the session reports it as blocked,
    /// and the deadline tracker turns that into a write stall even while PINGs keep the socket busy.
    func testZeroWindowIsAWriteStallThatPingsDoNotReset() {
        let server = makeServer()
        let client = H2TestClient(settings: [(Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), 0)])
        let id = client.request("GET", "/big")
        var sid: Int64 = 0
        pump(client, server) { s, _ in sid = s }
        server.send(.complete(HTTPResponse(body: [UInt8](repeating: 7, count: 10_000))), for: sid)
        pump(client, server)
        XCTAssertEqual(client.responses[id]?.status, 200)
        XCTAssertEqual(client.responses[id]?.body.count, 0, "nothing may pass a zero window")
        XCTAssertTrue(server.outputBlocked)

        let second: UInt64 = 1_000_000_000
        var deadlines = DeadlineTracker(timeouts: HTTPTimeouts(), now: 0)
        deadlines.update(phase: server.phase, now: 0)
        XCTAssertEqual(server.phase, .handling, "no read deadline applies while a response is outstanding")
        for t in stride(from: UInt64(0), through: 29, by: 1) {
            nghttp2_submit_ping(client.session, 0, nil)  // the socket keeps moving: PING and its ACK
            pump(client, server)
            deadlines.output(socketPending: false, socketProgressed: true, flowBlocked: server.outputBlocked,
                             bodyBytesSent: server.bodyBytesSent, now: t * second)
            XCTAssertNil(deadlines.expired(now: t * second))
        }
        XCTAssertEqual(deadlines.next?.reason, .writeStall)
        XCTAssertEqual(deadlines.expired(now: 30 * second), .writeStall)

        // Opening the window is progress: the body flows and the stall is over.
        nghttp2_submit_window_update(client.session, 0, id, 20_000)
        pump(client, server)
        XCTAssertEqual(client.responses[id]?.body.count, 10_000)
        XCTAssertFalse(server.outputBlocked)
        deadlines.output(socketPending: false, socketProgressed: true, flowBlocked: server.outputBlocked,
                         bodyBytesSent: server.bodyBytesSent, now: 31 * second)
        XCTAssertNil(deadlines.expired(now: 100 * second))
    }

    func testResetBudgetNeverOverflows() {
        var budget = ResetBudget(burst: 3, perSecond: 1, now: .max - 10)
        XCTAssertTrue(budget.spend(now: .max))
        XCTAssertTrue(budget.spend(now: 0), "a clock going backwards neither traps nor refills")
        XCTAssertTrue(budget.spend(now: 0))
        XCTAssertFalse(budget.spend(now: 0))
        XCTAssertEqual(DeadlineTracker.nanos(.seconds(Int64.max)), .max)
    }
}

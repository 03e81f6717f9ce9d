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

/// The HPACK bomb: one 4 KB field in the dynamic table, referenced thousands of times by one-byte indices, so an
/// 8 KiB HEADERS frame decodes to megabytes. Far beyond the limit the stream is reset instead of answered 431, which
/// spares validating every decoded field; the connection goes on serving. Hand-made frames: nghttp2's own client
/// would refuse to send a block over the server's advertised header list size.
final class HPACKBombTests: XCTestCase {
    private func frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags]
            + withUnsafeBytes(of: stream.bigEndian, Array.init) + payload
    }

    /// (type, stream, payload) of each frame the server sent.
    private func frames(_ bytes: [UInt8]) -> [(type: UInt8, stream: UInt32, payload: [UInt8])] {
        var out: [(UInt8, UInt32, [UInt8])] = []
        var i = 0
        while i + 9 <= bytes.count {
            let n = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            let stream = bytes[(i + 5)..<(i + 9)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
            out.append((bytes[i + 3], stream, Array(bytes[(i + 9)..<min(bytes.count, i + 9 + n)])))
            i += 9 + n
        }
        return out
    }

    func testHeaderBlockFarBeyondTheLimitIsResetAndTheConnectionServesOn() {
        let server = HTTP2Session(limits: HTTPLimits(), date: { fixedDate }, clock: { 0 })
        let pseudo: [UInt8] = [0x82, 0x84, 0x86, 0x01, 0x01, 0x78]  // GET / http, :authority x (not indexed)
        let value = [UInt8](repeating: 0x76, count: 4000)
        let insert: [UInt8] = [0x40, 3] + Array("x-b".utf8) + [0x7F, 0xA1, 0x1E] /* length 4000 */ + value
        var input = ConnectionEngine.preface + frame(4, 0, 0, [])
        input += frame(1, 5, 1, pseudo + insert + [UInt8](repeating: 0xBE, count: 2000))  // ~8 MB decoded
        input += frame(1, 5, 3, pseudo + [UInt8](repeating: 0xBE, count: 9))  // ~36 KB: over the limit, no bomb
        input += frame(1, 5, 5, pseudo)
        var seen: [Int64] = []
        server.receive(input)
        for (id, _) in server.takeRequests() {
            seen.append(id)
            server.send(.complete(HTTPResponse(text: "fine")), for: id)
        }
        var out: [UInt8] = []
        server.takeOutput(into: &out, limit: .max)
        let sent = frames(out)
        XCTAssertEqual(seen, [5], "only the plain request reaches the handler")
        let reset = sent.first { $0.type == 3 && $0.stream == 1 }
        XCTAssertEqual(reset?.payload, [0, 0, 0, 2], "the bomb is reset with INTERNAL_ERROR")
        XCTAssertNil(sent.first { $0.type == 1 && $0.stream == 1 }, "and not answered")
        let refused = sent.first { $0.type == 1 && $0.stream == 3 }?.payload ?? []
        XCTAssertTrue(refused.starts(with: [0x48, 3] + Array("431".utf8)), "\(refused.prefix(8))")
        XCTAssertEqual(sent.first { $0.type == 1 && $0.stream == 5 }?.payload.first, 0x88, ":status 200")
        XCTAssertEqual(server.refusals, 2)
        XCTAssertEqual(server.resetsSent, 1)
        XCTAssertNil(server.failure)
    }
}

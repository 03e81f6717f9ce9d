import Foundation
import XCTest
@testable import HTTPCore

/// Collects what a responder was given.
final class CapturingSink: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [ResponsePart] = []
    var parts: [ResponsePart] { lock.lock(); defer { lock.unlock() }; return stored }
    func append(_ p: ResponsePart) { lock.lock(); stored.append(p); lock.unlock() }
    func responder() -> HTTPResponder { HTTPResponder(sink: { self.append($0) }) }
    var response: HTTPResponse? {
        if case .complete(let r) = parts.first { return r }
        return nil
    }
}

final class RouterTests: XCTestCase {
    struct Item: Codable, Equatable { var id: String; var count: Int }

    private func makeRouter() -> Router {
        var router = Router()
        router.get("/items/{id}") { .json(Item(id: $0.pathParameters["id"]!, count: 1)) }
        router.post("/items/{id}/count/{n}") { r in
            .json(Item(id: r.pathParameters["id"]!, count: Int(r.pathParameters["n"]!) ?? -1), status: 201)
        }
        router.get("/health") { _ in HTTPResponse(text: "ok") }
        router.on("DELETE", "/items/{id}") { _, responder in
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.01) { responder.respond(HTTPResponse(status: 204)) }
        }
        return router
    }

    private func call(_ router: Router, _ method: String, _ target: String) -> CapturingSink {
        let sink = CapturingSink()
        router.handle(HTTPRequest(method: method, target: target), responder: sink.responder())
        return sink
    }

    func testPathParametersArePercentDecoded() throws {
        let r = try XCTUnwrap(call(makeRouter(), "GET", "/items/a%20b?x=1").response)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.headers["content-type"], "application/json")
        XCTAssertEqual(String(decoding: r.body, as: UTF8.self), #"{"count":1,"id":"a b"}"#)
        let two = try XCTUnwrap(call(makeRouter(), "POST", "/items/7/count/42").response)
        XCTAssertEqual(two.status, 201)
        XCTAssertEqual(String(decoding: two.body, as: UTF8.self), #"{"count":42,"id":"7"}"#)
    }

    func testUnknownPathIs404AndWrongMethodIs405WithAllow() throws {
        let missing = try XCTUnwrap(call(makeRouter(), "GET", "/nope").response)
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(String(decoding: missing.body, as: UTF8.self), #"{"error":"no route for /nope"}"#)
        let wrong = try XCTUnwrap(call(makeRouter(), "PUT", "/items/3").response)
        XCTAssertEqual(wrong.status, 405)
        XCTAssertEqual(wrong.headers["allow"], "GET, DELETE, HEAD")
        XCTAssertEqual(try XCTUnwrap(call(makeRouter(), "GET", "/items").response).status, 404, "segment counts must match")
    }

    func testUnmatchedHookGetsTheResponseAndAnswersWithIt() throws {
        var router = makeRouter()
        let seen = LockedStrings()
        router.unmatched = { request, responder, response in
            seen.append("\(request.method) \(request.path) \(response.status)")
            var marked = response
            marked.headers.set("x-counted", "1")
            responder.respond(marked)
        }
        let missing = try XCTUnwrap(call(router, "GET", "/nope").response)
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.headers["x-counted"], "1")
        XCTAssertEqual(try XCTUnwrap(call(router, "PUT", "/health").response).status, 405)
        XCTAssertEqual(try XCTUnwrap(call(router, "GET", "/health").response).status, 200, "matched routes skip the hook")
        XCTAssertEqual(seen.all, ["GET /nope 404", "PUT /health 405"])
    }

    func testHeadFallsBackToGet() throws {
        XCTAssertEqual(try XCTUnwrap(call(makeRouter(), "HEAD", "/health").response).status, 200)
    }

    func testCallbackRouteAnswersLaterFromAnotherThread() {
        let sink = call(makeRouter(), "DELETE", "/items/9")
        let deadline = Date().addingTimeInterval(2)
        while sink.parts.isEmpty && Date() < deadline { usleep(1000) }
        XCTAssertEqual(sink.response?.status, 204)
    }

    func testResponderAnswersOnceAndDroppedResponderSends500() {
        let sink = CapturingSink()
        do {
            let responder = sink.responder()
            XCTAssertTrue(responder.respond(HTTPResponse(text: "first")))
            XCTAssertFalse(responder.respond(HTTPResponse(text: "second")))
            XCTAssertNil(responder.startStreaming(HTTPResponseHead(status: 200)))
        }
        XCTAssertEqual(sink.parts.count, 1)
        XCTAssertEqual(sink.response?.body, Array("first".utf8))

        let dropped = CapturingSink()
        do { _ = dropped.responder() }
        XCTAssertEqual(dropped.response?.status, 500)
    }

    func testStreamingWriterEndsOnceEvenIfDropped() {
        let sink = CapturingSink()
        do {
            let writer = sink.responder().startStreaming(HTTPResponseHead(status: 200))
            writer?.write(Array("a".utf8))
            writer?.write([])
        }
        let kinds = sink.parts.map { part -> String in
            switch part {
            case .head: "head"
            case .body(let b): "body:\(b.count)"
            case .end: "end"
            case .complete: "complete"
            }
        }
        XCTAssertEqual(kinds, ["head", "body:1", "end"])
    }

    func testAsyncHandlerResponds() {
        let sink = CapturingSink()
        AsyncHandler { r in HTTPResponse(text: "async " + r.path) }.handle(HTTPRequest(method: "GET", target: "/a"), responder: sink.responder())
        let deadline = Date().addingTimeInterval(2)
        while sink.parts.isEmpty && Date() < deadline { usleep(1000) }
        XCTAssertEqual(sink.response?.body, Array("async /a".utf8))
    }

    func testDecodeJSONNamesTheFailingField() {
        let ok = HTTPRequest(method: "POST", target: "/", body: Array(#"{"id":"x","count":3}"#.utf8))
        XCTAssertEqual(try ok.decodeJSON(Item.self), Item(id: "x", count: 3))
        let missing = HTTPRequest(method: "POST", target: "/", body: Array(#"{"id":"x"}"#.utf8))
        XCTAssertThrowsError(try missing.decodeJSON(Item.self)) { XCTAssertEqual("\($0)", "missing field 'count'") }
        let wrong = HTTPRequest(method: "POST", target: "/", body: Array(#"{"id":"x","count":"3"}"#.utf8))
        XCTAssertThrowsError(try wrong.decodeJSON(Item.self)) { XCTAssertTrue("\($0)".hasPrefix("wrong type at 'count'"), "\($0)") }
    }

    func testJSONErrorEscapesItsMessage() {
        let r = HTTPResponse.jsonError(status: 400, "bad \"quote\"\n")
        XCTAssertEqual(String(decoding: r.body, as: UTF8.self), #"{"error":"bad \"quote\"\n"}"#)
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(r.body)))
    }
}

/// Lines appended from any thread.
final class LockedStrings: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}

import Foundation
import HTTPCore
import HTTPServer
import HTTPTesting

/// The routes every live test serves; `/later` answers after `laterDelay` ms and tells `laterArrived` it has a request.
func testRouter(laterDelay: Int = 300, laterArrived: (@Sendable () -> Void)? = nil) -> Router {
    var router = Router()
    router.get("/hello") { _ in HTTPResponse(text: "hello\n") }
    router.get("/json") { _ in .json(["ok": true]) }
    router.get("/items/{id}") { r in .json(["id": r.pathParameters["id"]!, "rid": r.requestID]) }
    router.post("/echo") { r in HTTPResponse(headers: ["content-type": "application/octet-stream"], body: r.body) }
    router.get("/big") { _ in HTTPResponse(body: [UInt8](repeating: 0x61, count: 4 << 20)) }
    // Answers from another thread after a delay, as the recommendation batcher will.
    router.on("GET", "/later") { _, responder in
        laterArrived?()
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(laterDelay)) {
            responder.respond(HTTPResponse(text: "later\n"))
        }
    }
    router.on("GET", "/stream") { _, responder in
        guard let writer = responder.startStreaming(HTTPResponseHead(status: 200, headers: ["content-type": "text/plain"])) else { return }
        DispatchQueue.global().async {
            for i in 0..<5 {
                writer.write(Array("part \(i)\n".utf8))
                usleep(5_000)
            }
            writer.finish()
        }
    }
    return router
}

extension LiveServer {
    /// A live server on the routes above.
    convenience init(_ configure: (inout HTTPServerConfig) -> Void = { _ in }) throws {
        try self.init(handler: testRouter(), configure)
    }
}

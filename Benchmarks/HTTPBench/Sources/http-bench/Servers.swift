import Foundation
import HTTPCore
import HTTPServer
import Hummingbird
import HummingbirdHTTP2
import Logging

/// The endpoint both servers implement: encode this value as JSON on every request.
struct Greeting: Codable, ResponseEncodable {
    var message: String
}

/// Our server: HTTP/1.1 and h2c (prior knowledge) on one port, no access log (Hummingbird logs nothing per request
/// by default either).
func serveOurs(port: UInt16) throws -> Never {
    var router = HTTPCore.Router()
    router.get("/json") { _ in .json(Greeting(message: "Hello, World!")) }
    var config = HTTPServerConfig()
    config.host = "127.0.0.1"
    config.port = port
    config.accessLog = .none
    let server = try HTTPServer(config: config, handler: router)
    try server.start()
    dispatchMain()
}

/// Hummingbird 2: `.http1()` or `.plaintextHTTP2()` (h2c prior knowledge; Hummingbird has no h2c upgrade and
/// cannot serve both on one cleartext port).
func serveHummingbird(port: Int, http2: Bool) async throws {
    let router = Hummingbird.Router()
    router.get("/json") { _, _ in Greeting(message: "Hello, World!") }
    var logger = Logger(label: "hummingbird")
    logger.logLevel = .warning
    let app = Application(
        router: router,
        server: http2 ? .plaintextHTTP2() : .http1(),
        configuration: .init(address: .hostname("127.0.0.1", port: port)),
        logger: logger
    )
    try await app.runService()
}

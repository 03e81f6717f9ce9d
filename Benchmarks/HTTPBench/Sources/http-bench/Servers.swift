import Foundation
import Hummingbird
import HummingbirdHTTP2
import Logging

/// The endpoint both servers implement: encode this value as JSON on every request (as OurServer does).
struct Greeting: Codable, ResponseEncodable {
    var message: String
}

/// Hummingbird 2: `.http1()` or `.plaintextHTTP2()` (h2c prior knowledge; Hummingbird has no h2c upgrade and
/// cannot serve both on one cleartext port).
func serveHummingbird(port: Int, http2: Bool) async throws {
    let router = Router()
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

import Dispatch
import Foundation
import HTTPCore
import HTTPServer

// our-server PORT: GET /json on 127.0.0.1, HTTP/1.1 and h2c on one port. No access log (Hummingbird logs nothing
// per request by default either).

struct Greeting: Codable {
    var message: String
}

guard CommandLine.arguments.count == 2, let port = UInt16(CommandLine.arguments[1]) else {
    FileHandle.standardError.write(Data("usage: our-server PORT\n".utf8))
    exit(2)
}
var router = Router()
router.get("/json") { _ in .json(Greeting(message: "Hello, World!")) }
var config = HTTPServerConfig()
config.host = "127.0.0.1"
config.port = port
config.accessLog = .none
let server = try HTTPServer(config: config, handler: router)
try server.start()
dispatchMain()

import Foundation
import HTTPTesting
import XCTest
@testable import HTTPServer

/// Listening socket: address families, typed start-up errors.
final class ListenerTests: XCTestCase {
    func testIPv6LoopbackServesOrFailsWithATypedBindError() throws {
        var config = HTTPServerConfig()
        config.host = "::1"
        config.port = 0
        let log = LogLines()
        config.accessLog = .custom { log.append($0) }
        let server = try HTTPServer(config: config, handler: testRouter())
        do {
            let port = try server.start()
            defer { server.shutdown(gracePeriod: .seconds(1)) {} }
            let r = try runClient("curl", ["-sS", "--max-time", "5", "-g", "http://[::1]:\(port)/hello"])
            XCTAssertEqual(r.stdout, "hello\n", r.stderr)
            XCTAssertTrue(eventually { log.lines.count == 1 })
            XCTAssertTrue(log.lines[0].split(separator: " ")[1].hasPrefix("[::1]:"), log.lines[0])
        } catch HTTPServerError.socket(let call, let code) {
            // A kernel without IPv6 must still produce a clear error, not a crash or a silent IPv4 fallback.
            XCTAssertTrue(call.hasPrefix("bind ::1:0") || call == "socket", call)
            XCTAssertTrue([EADDRNOTAVAIL, EAFNOSUPPORT].contains(code), "errno \(code)")
        }
    }

    func testHostThatIsNotAnAddressIsRejected() throws {
        var config = HTTPServerConfig()
        config.host = "example.org"
        let server = try HTTPServer(config: config, handler: testRouter())
        XCTAssertThrowsError(try server.start()) { error in
            XCTAssertEqual(error as? HTTPServerError, .invalidAddress("example.org"))
            XCTAssertEqual("\(error)", "host 'example.org' is not an IPv4 or IPv6 address")
        }
    }

    func testPortInUseIsATypedError() throws {
        let first = try LiveServer()
        defer { first.stop() }
        var config = HTTPServerConfig()
        config.port = first.port
        let second = try HTTPServer(config: config, handler: testRouter())
        XCTAssertThrowsError(try second.start()) { error in
            XCTAssertEqual(error as? HTTPServerError, .socket(call: "bind 127.0.0.1:\(first.port)", errno: EADDRINUSE))
        }
    }

    func testCleartextUpgradeRequestIsAnsweredOverHTTP11() throws {
        let live = try LiveServer()
        defer { live.stop() }
        // `curl --http2` on http:// asks for `Upgrade: h2c`; declining it and answering in HTTP/1.1 is allowed.
        let r = try runClient("curl", ["-sS", "--http2", "-w", " %{http_version}", live.base + "/hello"])
        XCTAssertEqual(r.stdout, "hello\n 1.1", r.stderr)
    }
}

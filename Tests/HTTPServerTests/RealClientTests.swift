import Foundation
import HTTPTesting
import XCTest
@testable import HTTPServer

/// The server against real clients from Debian: curl (HTTP/1.1, h2c prior knowledge), nghttp and h2load.
final class RealClientTests: XCTestCase {
    var live: LiveServer!

    override func setUpWithError() throws { live = try LiveServer() }
    override func tearDown() { live.stop() }

    private func curl(_ args: [String]) throws -> ProcessResult {
        try runClient("curl", ["-sS", "--max-time", "10"] + args)
    }

    func testCurlHTTP11GetsBodyRequestIDAndOneLogLine() throws {
        let r = try curl(["-D", "-", "-w", "\n%{http_version}", live.base + "/hello"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.components(separatedBy: "\r\n")
        XCTAssertEqual(lines.first, "HTTP/1.1 200 OK")
        XCTAssertTrue(r.stdout.hasSuffix("\r\n\r\nhello\n\n1.1"), r.stdout)
        let rid = try XCTUnwrap(lines.first { $0.hasPrefix("x-request-id: ") }).dropFirst("x-request-id: ".count)
        XCTAssertEqual(rid.count, 32, "a generated id")
        XCTAssertTrue(eventually { self.live.log.lines.count == 1 })
        let line = live.log.lines[0]
        XCTAssertTrue(line.contains(#""GET /hello HTTP/1.1" 200 6 "#), line)
        XCTAssertTrue(line.hasSuffix("id=\(rid)"), line)
    }

    func testClientRequestIDIsPassedThrough() throws {
        let r = try curl(["-H", "x-request-id: trace-77", "-D", "-", live.base + "/items/5"])
        XCTAssertTrue(r.stdout.contains("x-request-id: trace-77\r\n"), r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix(#"{"id":"5","rid":"trace-77"}"#), r.stdout)
    }

    func testCurlReusesAKeepAliveConnection() throws {
        let r = try curl(["-o", "/dev/null", "-o", "/dev/null", live.base + "/hello", live.base + "/json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(eventually { self.live.log.lines.count == 2 })
        // The log's second field is the peer address:port, identical when the connection was reused.
        let peers = live.log.lines.map { $0.split(separator: " ")[1] }
        XCTAssertEqual(peers[0], peers[1])
    }

    func testCurlHTTP2PriorKnowledge() throws {
        let r = try curl(["--http2-prior-knowledge", "-w", "\n%{http_version} %{response_code}", live.base + "/items/abc"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix(#"{"id":"abc","rid":"#), r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix("\n2 200"), r.stdout)
    }

    func testCurlUploadWithExpectContinueIsEchoed() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("upload-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        let payload = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try payload.write(to: file)
        for flags in [["--http1.1", "-H", "Expect: 100-continue"], ["--http2-prior-knowledge"]] {
            let out = file.path + ".out"
            defer { try? FileManager.default.removeItem(atPath: out) }
            let r = try curl(flags + ["--data-binary", "@" + file.path, "-o", out, "-w", "%{http_version}", live.base + "/echo"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), payload, "\(flags)")
        }
    }

    func testStreamedAndLateAnswersOverBothProtocols() throws {
        for flag in ["--http1.1", "--http2-prior-knowledge"] {
            let s = try curl([flag, "-D", "-", live.base + "/stream"])
            XCTAssertTrue(s.stdout.hasSuffix("part 0\npart 1\npart 2\npart 3\npart 4\n"), s.stdout)
            if flag == "--http1.1" { XCTAssertTrue(s.stdout.contains("transfer-encoding: chunked"), s.stdout) }
            let l = try curl([flag, live.base + "/later"])
            XCTAssertEqual(l.stdout, "later\n")
        }
    }

    func testRouterStatusesOverTheWire() throws {
        let r = try curl(["-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} ", live.base + "/missing", "-X", "DELETE", live.base + "/hello"])
        XCTAssertEqual(r.stdout, "404 405 ")
    }

    func testNghttpManyConcurrentStreams() throws {
        let urls = (0..<20).map { live.base + "/items/\($0)" }
        let r = try runClient("nghttp", ["-s", "-t", "10"] + urls)
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        XCTAssertEqual(r.stdout.components(separatedBy: "\n").filter { $0.contains("/items/") }.count, 20, r.stdout)
        XCTAssertTrue(eventually { self.live.log.lines.count == 20 })
        XCTAssertTrue(live.log.lines.allSatisfy { $0.contains(" HTTP/2\" 200 ") }, live.log.lines.joined(separator: "\n"))
    }

    func testH2loadShortRunHasNoFailures() throws {
        for args in [["-n", "2000", "-c", "10", "-m", "10"], ["--h1", "-n", "1000", "-c", "10"]] {
            let r = try runClient("h2load", args + [live.base + "/json"], timeout: 30)
            XCTAssertEqual(r.status, 0, r.stderr)
            let total = args[args.firstIndex(of: "-n")! + 1]
            XCTAssertTrue(r.stdout.contains("requests: \(total) total, \(total) started, \(total) done, \(total) succeeded, 0 failed, 0 errored, 0 timeout"), r.stdout)
            XCTAssertTrue(r.stdout.contains("status codes: \(total) 2xx"), r.stdout)
        }
    }
}

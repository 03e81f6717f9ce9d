import COpenSSL
import Foundation
import HTTPTesting
import XCTest
@testable import HTTPServer

/// TLS with ALPN, against curl and nghttp, with a certificate made by the openssl CLI for this test.
final class TLSTests: XCTestCase {
    var cert: TestCertificate!
    var live: LiveServer!

    override func setUpWithError() throws {
        cert = try TestCertificate(commonName: "first")
        let files = TLSFiles(certificateChainPath: cert.certificate, privateKeyPath: cert.key)
        live = try LiveServer { $0.tls = files }
    }

    override func tearDown() {
        live.stop()
        try? FileManager.default.removeItem(at: cert.directory)
    }

    private var url: String { "https://127.0.0.1:\(live.port)" }

    func testALPNNegotiatesH2AndHTTP11WithAVerifiedCertificate() throws {
        for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
            let r = try runClient("curl", ["-sS", "--max-time", "10", flag, "--cacert", cert.certificate,
                                     "-w", " %{http_version}", url + "/items/t"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.hasPrefix(#"{"id":"t""#), r.stdout)
            XCTAssertTrue(r.stdout.hasSuffix(" \(version)"), "\(flag): \(r.stdout)")
        }
    }

    func testNghttpOverTLSAndLargeBody() throws {
        let r = try runClient("nghttp", ["-s", "-n", "-t", "10", url + "/big", url + "/hello"])
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        XCTAssertTrue(eventually { self.live.log.lines.count == 2 })
        XCTAssertTrue(live.log.lines.contains { $0.contains(#""GET /big HTTP/2" 200 4194304 "#) }, live.log.lines.joined(separator: "\n"))
    }

    func testH2loadOverTLS() throws {
        let r = try runClient("h2load", ["-n", "500", "-c", "4", "-m", "5", url + "/json"], timeout: 30)
        XCTAssertTrue(r.stdout.contains("500 succeeded, 0 failed, 0 errored, 0 timeout"), r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("Application protocol: h2"), r.stdout)
    }

    func testMinimumProtocolIsTLS12() throws {
        XCTAssertEqual(live.server.currentTLSContext?.minimumProtocolVersion, Int(TLS1_2_VERSION))
    }

    func testSIGHUPReloadsTheCertificateForNewConnections() throws {
        let second = try TestCertificate(commonName: "second", in: cert.directory, name: "next")
        let check = { try runClient("curl", ["-sS", "--max-time", "5", "--cacert", second.certificate, self.url + "/hello"]) }
        XCTAssertNotEqual(try check().status, 0, "the new certificate must not be trusted before the reload")
        // Replace the configured files atomically, as a certificate renewal would.
        XCTAssertEqual(rename(second.certificate, cert.certificate), 0)
        XCTAssertEqual(rename(second.key, cert.key), 0)
        kill(getpid(), SIGHUP)
        XCTAssertTrue(eventually(timeout: 5) { (try? runClient("curl", ["-sS", "--max-time", "5", "--cacert", self.cert.certificate,
                                                                    self.url + "/hello"]))?.stdout == "hello\n" })
    }

    func testBrokenKeyFailsAtStartupWithThePath() throws {
        let bad = cert.directory.appendingPathComponent("bad.key").path
        try Data("not a key".utf8).write(to: URL(fileURLWithPath: bad))
        var config = HTTPServerConfig()
        config.tls = TLSFiles(certificateChainPath: cert.certificate, privateKeyPath: bad)
        XCTAssertThrowsError(try HTTPServer(config: config, handler: testRouter())) { error in
            XCTAssertTrue("\(error)".contains("cannot load private key '\(bad)'"), "\(error)")
        }
    }

    func testPlainHTTPOnATLSPortIsDropped() throws {
        let client = try RawClient(port: live.port)
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        let (bytes, closed) = client.readToEnd()
        XCTAssertTrue(closed)
        XCTAssertFalse(String(decoding: bytes, as: UTF8.self).contains("hello"))
        let ok = try runClient("curl", ["-sS", "--cacert", cert.certificate, url + "/hello"])
        XCTAssertEqual(ok.stdout, "hello\n", "other clients keep being served")
    }
}

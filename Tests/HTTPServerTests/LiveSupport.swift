import Foundation
import HTTPCore
import XCTest
@testable import HTTPServer

/// Collects access-log lines written by the server.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ line: String) { lock.lock(); stored.append(line); lock.unlock() }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return stored }
}

/// The routes every live test serves.
func testRouter() -> Router {
    var router = Router()
    router.get("/hello") { _ in HTTPResponse(text: "hello\n") }
    router.get("/json") { _ in .json(["ok": true]) }
    router.get("/items/{id}") { r in .json(["id": r.pathParameters["id"]!, "rid": r.requestID]) }
    router.post("/echo") { r in HTTPResponse(headers: ["content-type": "application/octet-stream"], body: r.body) }
    router.get("/big") { _ in HTTPResponse(body: [UInt8](repeating: 0x61, count: 4 << 20)) }
    // Answers from another thread after a delay, as the recommendation batcher will.
    router.on("GET", "/later") { _, responder in
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(300)) {
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

/// A server on an ephemeral loopback port with the test routes.
final class LiveServer {
    let server: HTTPServer
    let port: UInt16
    let log = LogLines()

    init(_ configure: (inout HTTPServerConfig) -> Void = { _ in }) throws {
        var config = HTTPServerConfig()
        config.host = "127.0.0.1"
        config.port = 0
        let log = self.log
        config.accessLog = .custom { log.append($0) }
        config.lingerTime = .milliseconds(300)  // test clients often keep their socket open after reading
        configure(&config)
        server = try HTTPServer(config: config, handler: testRouter())
        port = try server.start()
    }

    var base: String { "http://127.0.0.1:\(port)" }

    func stop() {
        let done = DispatchSemaphore(value: 0)
        server.shutdown(gracePeriod: .seconds(2)) { done.signal() }
        _ = done.wait(timeout: .now() + 5)
    }
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var timedOut: Bool
}

/// Runs a client program with a hard time limit (it is killed after `timeout` seconds).
func runClient(_ program: String, _ arguments: [String], timeout: TimeInterval = 20) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [program] + arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let finished = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in finished.signal() }
    // Drain both pipes concurrently so a chatty client cannot block on a full pipe.
    let outData = LockedData()
    let errData = LockedData()
    let readers = DispatchGroup()
    for (pipe, sink) in [(out, outData), (err, errData)] {
        DispatchQueue.global().async(group: readers) { sink.set(pipe.fileHandleForReading.readDataToEndOfFile()) }
    }
    try process.run()
    var timedOut = false
    if finished.wait(timeout: .now() + timeout) == .timedOut {
        timedOut = true
        process.terminate()
        _ = finished.wait(timeout: .now() + 5)
    }
    _ = readers.wait(timeout: .now() + 5)
    return ProcessResult(status: process.terminationStatus, stdout: String(decoding: outData.get(), as: UTF8.self),
                         stderr: String(decoding: errData.get(), as: UTF8.self), timedOut: timedOut)
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}

/// A self-signed certificate for 127.0.0.1 made by the `openssl` CLI in a fresh temp directory.
struct TestCertificate {
    let directory: URL
    let certificate: String
    let key: String

    init(commonName: String, in directory: URL? = nil, name: String = "server") throws {
        let dir = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("http-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        self.directory = dir
        certificate = dir.appendingPathComponent("\(name).crt").path
        key = dir.appendingPathComponent("\(name).key").path
        let r = try runClient("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                    "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=\(commonName)",
                                    "-addext", "subjectAltName=IP:127.0.0.1"])
        guard r.status == 0 else { throw HTTPServerError.tls("openssl req failed: \(r.stderr)") }
    }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: TimeInterval = 3, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

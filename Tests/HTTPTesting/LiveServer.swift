import Foundation
import HTTPCore
import XCTest
import HTTPServer

/// Collects access-log lines written by the server.
public final class LogLines: @unchecked Sendable {
    public init() {}
    private let lock = NSLock()
    private var stored: [String] = []
    public func append(_ line: String) { lock.lock(); stored.append(line); lock.unlock() }
    public var lines: [String] { lock.lock(); defer { lock.unlock() }; return stored }
}

/// A server on an ephemeral loopback port serving `handler`.
public final class LiveServer {
    public let server: HTTPServer
    public let port: UInt16
    public let log = LogLines()

    public init(handler: any HTTPHandler, _ configure: (inout HTTPServerConfig) -> Void = { _ in }) throws {
        var config = HTTPServerConfig()
        config.host = "127.0.0.1"
        config.port = 0
        let log = self.log
        config.accessLog = .custom { log.append($0) }
        config.lingerTime = .milliseconds(300)  // test clients often keep their socket open after reading
        configure(&config)
        server = try HTTPServer(config: config, handler: handler)
        port = try server.start()
    }

    public var base: String { "http://127.0.0.1:\(port)" }

    public func stop() {
        let done = DispatchSemaphore(value: 0)
        server.shutdown(gracePeriod: .seconds(2)) { done.signal() }
        _ = done.wait(timeout: .now() + 5)
    }
}

public struct ProcessResult {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var timedOut: Bool
}

/// Runs a client program with a hard time limit (it is killed after `timeout` seconds).
public func runClient(_ program: String, _ arguments: [String], timeout: TimeInterval = 20) throws -> ProcessResult {
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

public final class LockedData: @unchecked Sendable {
    public init() {}
    private let lock = NSLock()
    private var data = Data()
    public func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    public func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}

/// A self-signed certificate for 127.0.0.1 made by the `openssl` CLI in a fresh temp directory.
public struct TestCertificate {
    public let directory: URL
    public let certificate: String
    public let key: String

    public init(commonName: String, in directory: URL? = nil, name: String = "server") throws {
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
public func eventually(timeout: TimeInterval = 3, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

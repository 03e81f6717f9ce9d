import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One h2load measurement.
struct LoadResult {
    var requestsPerSecond: Double
    var succeeded: Int
    var failed: Int
    var p50Milliseconds: Double
    var p99Milliseconds: Double
    /// Server CPU time (user + system) per request: less sensitive than req/s to other load on a shared machine.
    var cpuMicrosecondsPerRequest: Double = 0
}

/// User + system CPU seconds a process has used so far (from /proc).
func cpuSeconds(_ pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return 0 }
    // Fields after the command name: state is field 3, utime and stime are fields 14 and 15.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

enum BenchError: Error, CustomStringConvertible {
    case serverDidNotStart(String)
    case h2load(String)

    var description: String {
        switch self {
        case .serverDidNotStart(let what): "server did not start: \(what)"
        case .h2load(let why): "h2load: \(why)"
        }
    }
}

/// A free loopback port (bind to 0, read it back, release it).
func freePort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
            _ = bind(fd, p, length)
            return getsockname(fd, p, &length)
        }
    }
    return UInt16(bigEndian: addr.sin_port)
}

func canConnect(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// Starts a server as a child process (a fresh process per measurement) and waits until it accepts connections.
func launchServer(_ executable: URL, _ arguments: [String], port: UInt16) throws -> Process {
    let child = Process()
    child.executableURL = executable
    child.arguments = arguments
    child.standardOutput = FileHandle.nullDevice
    try child.run()
    let deadline = Date().addingTimeInterval(30)
    while !canConnect(port) {
        guard child.isRunning, Date() < deadline else {
            child.terminate()
            throw BenchError.serverDidNotStart(arguments.joined(separator: " "))
        }
        usleep(20_000)
    }
    return child
}

func stopServer(_ child: Process) {
    child.terminate()
    child.waitUntilExit()
}

/// Runs h2load and returns its standard output.
func h2load(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["h2load"] + arguments
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 else {
        throw BenchError.h2load("exit \(process.terminationStatus): \(text.suffix(500))")
    }
    return text
}

/// Measures one server: a short warm-up run, then the timed run with a per-request log for percentiles.
func measure(_ arguments: [String], url: String, serverPID: Int32) throws -> LoadResult {
    var warmUp = arguments
    if let d = warmUp.firstIndex(of: "-D") { warmUp[d + 1] = "2" }
    _ = try h2load(warmUp + [url])  // warm-up: same shape, 2 s
    let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("h2load-\(UUID().uuidString).tsv").path
    defer { try? FileManager.default.removeItem(atPath: logPath) }
    let cpuBefore = cpuSeconds(serverPID)
    let output = try h2load(arguments + ["--log-file=\(logPath)", url])
    let cpu = cpuSeconds(serverPID) - cpuBefore
    var result = try parse(output, logPath: logPath)
    result.cpuMicrosecondsPerRequest = cpu * 1e6 / Double(max(result.succeeded, 1))
    return result
}

func parse(_ output: String, logPath: String) throws -> LoadResult {
    // "finished in 10.00s, 98765.43 req/s, 12.34MB/s"
    guard let finished = output.split(separator: "\n").first(where: { $0.hasPrefix("finished in") }),
          let rps = finished.split(separator: ",").dropFirst().first?.split(separator: " ").first.flatMap({ Double($0) }) else {
        throw BenchError.h2load("no 'finished in' line in output:\n\(output)")
    }
    // "requests: N total, N started, N done, N succeeded, F failed, E errored, T timeout"
    guard let requests = output.split(separator: "\n").first(where: { $0.hasPrefix("requests:") }) else {
        throw BenchError.h2load("no 'requests:' line")
    }
    func count(_ label: String) -> Int {
        requests.split(separator: ",").first { $0.hasSuffix(" " + label) }
            .flatMap { Int($0.split(separator: " ").reversed().dropFirst().first ?? "") } ?? -1
    }
    // Per-request log: start time (µs since epoch) \t status \t microseconds until the response ended.
    let log = try String(contentsOfFile: logPath, encoding: .utf8)
    var durations: [Double] = []
    durations.reserveCapacity(1 << 20)
    for line in log.split(separator: "\n") {
        let fields = line.split(separator: "\t")
        if fields.count >= 3, let micros = Double(fields[2]) { durations.append(micros) }
    }
    guard !durations.isEmpty else { throw BenchError.h2load("empty per-request log") }
    durations.sort()
    func percentile(_ p: Double) -> Double { durations[min(durations.count - 1, Int(Double(durations.count) * p))] / 1000 }
    return LoadResult(requestsPerSecond: rps, succeeded: count("succeeded"), failed: count("failed") + count("errored"),
                      p50Milliseconds: percentile(0.50), p99Milliseconds: percentile(0.99))
}

import Foundation

// http-bench [--ours PATH]     compare both servers (what `make bench-http` runs); PATH is OurServer's binary
// http-bench serve hb-h1|hb-h2 PORT   Hummingbird 2 with .http1() or .plaintextHTTP2()

let arguments = Array(CommandLine.arguments.dropFirst())

if arguments.first == "serve", arguments.count == 3, let port = Int(arguments[2]),
   ["hb-h1", "hb-h2"].contains(arguments[1]) {
    try await serveHummingbird(port: port, http2: arguments[1] == "hb-h2")
    exit(0)
}

var oursPath = "Benchmarks/HTTPBench/OurServer/.build/release/our-server"
if arguments.count == 2, arguments[0] == "--ours" { oursPath = arguments[1] }
guard FileManager.default.isExecutableFile(atPath: oursPath) else {
    FileHandle.standardError.write(Data("our server not found at '\(oursPath)' (build Benchmarks/HTTPBench/OurServer, or pass --ours PATH)\n".utf8))
    exit(2)
}
let oursExecutable = URL(fileURLWithPath: oursPath)
let selfExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()

struct Run {
    let label: String
    let h2loadArguments: [String]
    let hummingbird: String
}

let duration = "10"
let runs = [
    Run(label: "HTTP/2 (h2c)", h2loadArguments: ["-c", "64", "-m", "10", "-t", "2", "-D", duration], hummingbird: "hb-h2"),
    Run(label: "HTTP/1.1", h2loadArguments: ["--h1", "-c", "64", "-m", "1", "-t", "2", "-D", duration], hummingbird: "hb-h1"),
]

print("GET /json (JSONEncoder per request) on 127.0.0.1, \(ProcessInfo.processInfo.activeProcessorCount) cores shared by server and h2load.")
print("Each server runs alone in a fresh child process; 2 s warm-up, then the timed run. p50/p99 from h2load --log-file.")
print("Two rounds in alternating order (ours, hb / hb, ours); the table keeps each server's faster round, so load from")
print("other processes on the machine penalises neither side more. cpu = server user+system CPU per request.")
print("Ours serves HTTP/1.1 and h2c on one port; Hummingbird 2.28.1 uses .http1() or .plaintextHTTP2() (h2c with prior")
print("knowledge; it has no h2c upgrade and no mixed cleartext port), so both HTTP/2 runs are prior-knowledge h2c.\n")

/// One timed run against a fresh server process: ours, or this executable in Hummingbird mode.
func runOnce(ours: Bool, _ run: Run) throws -> LoadResult {
    let port = freePort()
    let child = ours ? try launchServer(oursExecutable, [String(port)], port: port)
        : try launchServer(selfExecutable, ["serve", run.hummingbird, String(port)], port: port)
    defer { stopServer(child) }
    let result = try measure(run.h2loadArguments, url: "http://127.0.0.1:\(port)/json", serverPID: child.processIdentifier)
    print("  \(ours ? "ours" : run.hummingbird): \(Int(result.requestsPerSecond)) req/s, p99 \(fmt(result.p99Milliseconds, 2)) ms, "
        + "cpu \(fmt(result.cpuMicrosecondsPerRequest, 1)) us/req, \(result.failed) failed")
    return result
}

func fmt(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

var rows: [(String, LoadResult, LoadResult)] = []
for run in runs {
    print("h2load \(run.h2loadArguments.joined(separator: " ")) http://127.0.0.1:PORT/json")
    let ours1 = try runOnce(ours: true, run)
    let hb1 = try runOnce(ours: false, run)
    let hb2 = try runOnce(ours: false, run)
    let ours2 = try runOnce(ours: true, run)
    let best = { (a: LoadResult, b: LoadResult) in a.requestsPerSecond >= b.requestsPerSecond ? a : b }
    rows.append((run.label, best(ours1, ours2), best(hb1, hb2)))
}

print("")
print("| protocol | server | req/s | p50 ms | p99 ms | cpu us/req | failed |")
print("|---|---|---:|---:|---:|---:|---:|")
for (label, ours, hb) in rows {
    for (name, r) in [("ours", ours), ("hummingbird 2.28.1", hb)] {
        print("| \(label) | \(name) | \(Int(r.requestsPerSecond)) | \(fmt(r.p50Milliseconds, 2)) | \(fmt(r.p99Milliseconds, 2)) "
            + "| \(fmt(r.cpuMicrosecondsPerRequest, 1)) | \(r.failed) |")
    }
}
print("")
for (label, ours, hb) in rows {
    print("\(pad(label, 13)) ours/hummingbird: throughput x\(fmt(ours.requestsPerSecond / hb.requestsPerSecond, 2)), "
        + "p99 x\(fmt(ours.p99Milliseconds / hb.p99Milliseconds, 2)), cpu/req x\(fmt(ours.cpuMicrosecondsPerRequest / hb.cpuMicrosecondsPerRequest, 2)) "
        + "(throughput above 1, p99 and cpu below 1 favour ours)")
}

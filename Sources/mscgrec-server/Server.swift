import ArgumentParser
import BLASRuntime
import Foundation
import Logging
import MSCCore
import ProcessSupport
import RecommendationServer

@main
struct Server: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mscgrec-server",
        abstract: "Serves constrained beam-search recommendations from an MSCGRec artifact bundle over HTTP/1.1 and HTTP/2.",
        discussion: """
        Serves ROOT/current (published by `mscgrec-trainer export --run RUN --out ROOT`) and reloads when it changes, \
        on SIGHUP and on POST /admin/reload. Settings: the --config JSON file, overridden by MSCGREC_* environment \
        variables, overridden by these flags (README lists every setting and its default).
        """,
        version: MSCGRecVersion.string
    )

    @Option(help: "Bundle root directory (serves ROOT/current). Default: bundles.") var bundles: String?
    @Option(help: "Address to listen on. Default: 127.0.0.1.") var host: String?
    @Option(help: "Port (0 picks a free one). Default: 8080.") var port: Int?
    @Option(help: "JSON settings file (configs/server.json lists every key).") var config: String?
    @Option(help: "Log lines: text or json. Default: text.") var logFormat: String?
    @Option(help: "Concurrent batch computations. Default: the number of cores.") var workers: Int?
    @Option(help: "Largest batch. Default: 64 (1 turns batching off).") var maxBatch: Int?
    @Option(help: "Longest wait for a batch to fill, milliseconds. Default: 2.") var maxDelayMs: Double?

    static func main() async {
        KernelSelection.selectKernels()   // may re-execute with faster OpenBLAS kernels, before serving starts
        do {
            var command = try parseAsRoot()
            if let server = command as? Server {
                FileHandle.standardError.write(Data("mscgrec-server \(MSCGRecVersion.string): \(KernelSelection.summaryLine); \(RecommendationServerApp.rowKernelDescription)\n".utf8))
                try await server.serve()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    var flags: [String: String] {
        var flags: [String: String] = [:]
        flags["bundles"] = bundles
        flags["http.host"] = host
        flags["http.port"] = port.map(String.init)
        flags["log.format"] = logFormat
        flags["batching.workers"] = workers.map(String.init)
        flags["batching.maxBatch"] = maxBatch.map(String.init)
        flags["batching.maxDelayMilliseconds"] = maxDelayMs.map { String($0) }
        return flags
    }

    func serve() async throws {
        let settings: ServerSettings
        do { settings = try await ServerSettings.load(file: config, flags: flags) } catch { throw ValidationError("\(error)") }
        let format = LineLogHandler.Format(rawValue: settings.logFormat) ?? .text
        let level = Logger.Level(rawValue: settings.logLevel) ?? .info
        let logger = Logger(label: "mscgrec-server") { label in LineLogHandler(label: label, format: format, level: level) }
        let app = try RecommendationServerApp(settings: settings, logger: logger)
        let systemd = SystemdNotifier()
        app.onReload(started: { reason in if reason != "start-up" { systemd.reloading() } },
                     finished: { serving in if serving { systemd.ready() } })

        // Subscribe before listening, so a signal during start-up is not lost.
        let stop = AsyncStream<Int32>.makeStream()
        let stopSubscription = SignalHub.shared.subscribe([SIGTERM, SIGINT]) { signal in stop.continuation.yield(signal) }
        let reloadSubscription = SignalHub.shared.subscribe([SIGHUP]) { _ in app.reload(reason: "SIGHUP") }
        defer { stopSubscription.cancel(); reloadSubscription.cancel() }

        let (port, loaded) = try app.start()
        switch loaded {
        case .success(let version):
            systemd.status("serving \(version) on port \(port)")
            say("mscgrec-server: serving \(version) on http://\(settings.host):\(port)")
        case .failure(let error):
            systemd.status("not ready: \(error)")
            say("mscgrec-server: listening on port \(port), NOT READY: \(error)")
        }
        _ = systemd.startWatchdog()
        for await signal in stop.stream {
            logger.info("stop requested", metadata: ["signal": "\(signal)"])
            break
        }
        systemd.stopping()
        await app.stop()
    }

    /// Unbuffered: scripts and supervisors read this line through a pipe while the server runs.
    private func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
}

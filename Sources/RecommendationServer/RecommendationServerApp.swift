import Foundation
import HTTPCore
import HTTPServer
import Logging
import TensorEngine

/// The whole server: HTTP/1.1 + HTTP/2 (TLS when configured) on the service's routes, the bundle watcher, and
/// graceful shutdown. `mscgrec-server` only parses settings, joins signals to `reload`/`stop`, and tells systemd.
public final class RecommendationServerApp: @unchecked Sendable {
    public let service: RecommendationService
    public let http: HTTPServer
    let logger: Logger

    /// Whether the engine's own AVX-512 row kernel serves the plain products (for the start-up line).
    public static var rowKernelDescription: String { RowKernel.description }

    public init(settings: ServerSettings, logger: Logger) throws {
        // The workers are the parallelism: BLAS inside each search stays on one thread.
        Parallelism.setBLASThreads(1)
        Parallelism.workers = 1
        self.logger = logger
        service = RecommendationService(settings: settings, logger: logger)
        var config = HTTPServerConfig()
        config.host = settings.host == "localhost" ? "127.0.0.1" : settings.host
        config.port = UInt16(settings.port)
        config.limits.maxBodyBytes = settings.maxBodyBytes
        config.accessLog = .none   // the service logs one line per request, with the batch size
        config.eventLog = .custom { [logger] line in logger.warning("\(line)") }
        if let certificate = settings.tlsCertificate, let key = settings.tlsKey {
            config.tls = TLSFiles(certificateChainPath: certificate, privateKeyPath: key)
        }
        http = try HTTPServer(config: config, handler: service.router)
    }

    /// Called when a load starts (with its reason: "start-up", "SIGHUP", …) and when it ends (with whether a model
    /// is serving): systemd's RELOADING=1 / READY=1.
    public func onReload(started: @escaping @Sendable (String) -> Void, finished: @escaping @Sendable (Bool) -> Void) {
        service.reloader.onReloading = started
        service.reloader.onReloaded = finished
    }

    /// Listens, then loads and warms `current` (readiness stays 503 until then), then watches it. Returns the port
    /// and the load's outcome; a failed first load keeps the server up, not ready, waiting for a good bundle.
    public func start() throws -> (port: UInt16, loaded: Result<String, any Error>) {
        let port = try http.start()
        logger.info("listening", metadata: ["host": "\(service.settings.host)", "port": "\(port)",
                                            "tls": "\(service.settings.tlsCertificate != nil)", "bundles": "\(service.settings.bundles)"])
        let loaded = service.reloader.reloadNow(reason: "start-up")
        service.reloader.startWatching(intervalMilliseconds: service.settings.watchIntervalMilliseconds)
        return (port, loaded)
    }

    public func reload(reason: String) { service.reloader.reload(reason: reason) }

    /// Readiness false, stop watching, GOAWAY / close after the current response, wait for in-flight requests
    /// (at most the grace period).
    public func stop() async {
        service.beginStopping()
        service.reloader.stopWatching()
        logger.info("shutting down", metadata: ["grace_seconds": "\(service.settings.shutdownGraceSeconds)"])
        await http.shutdown(gracePeriod: .milliseconds(Int(service.settings.shutdownGraceSeconds * 1000)))
        logger.info("stopped")
    }
}

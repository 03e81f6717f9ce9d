import Dispatch
import Foundation
import Generation
import HTTPCore
import Logging

/// The HTTP API (openapi.yaml) over the serving model: routes, request validation, the batcher, and one log line
/// plus metrics per request. No sockets here: tests drive `router` with requests and responders.
public final class RecommendationService: @unchecked Sendable {
    public let settings: ServerSettings
    public let slot: ModelSlot
    public let metrics: ServerMetrics
    let logger: Logger
    let batcher: Batcher
    let reloader: BundleReloader
    private let clock: @Sendable () -> UInt64
    private let stateLock = NSLock()
    private var stopping = false

    public init(settings: ServerSettings, logger: Logger, metrics: ServerMetrics = ServerMetrics(),
                clock: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }) {
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        self.clock = clock
        slot = ModelSlot()
        let delay = UInt64(settings.maxDelayMilliseconds * 1e6)
        batcher = Batcher(settings: .init(maxBatch: settings.maxBatch, maxDelayNanos: delay, capacity: settings.queueCapacity, workers: settings.workers),
                          beams: settings.beams, clock: clock,
                          onDepth: { [metrics] depth in metrics.queueDepth.record(depth) },
                          onBatch: { [metrics] size, nanos in metrics.batch(size: size, computeNanos: nanos) })
        reloader = BundleReloader(root: URL(fileURLWithPath: settings.bundles), slot: slot, beams: settings.beams, logger: logger, metrics: metrics)
    }

    /// Loads `ROOT/current` now (blocking): for embedding the service without the app (tests, tools).
    public func reloadNow() -> Result<String, any Error> { reloader.reloadNow(reason: "start-up") }

    /// Readiness goes false first thing on shutdown, so load balancers stop sending before connections close.
    public func beginStopping() { stateLock.withLock { stopping = true } }
    var isStopping: Bool { stateLock.withLock { stopping } }

    public var router: Router {
        var router = Router()
        // Requests no route takes (404, 405) are counted and logged too, under one route label.
        router.unmatched = { [self] request, responder, response in
            handle(route: "unmatched", request, responder) { finish in finish(response, nil) }
        }
        router.on("POST", "/recommend") { [self] request, responder in
            handle(route: "/recommend", request, responder) { finish in recommend(request, finish) }
        }
        router.on("GET", "/items/{id}") { [self] request, responder in
            handle(route: "/items/{id}", request, responder) { finish in finish(item(request), nil) }
        }
        router.on("GET", "/healthz") { [self] request, responder in
            handle(route: "/healthz", request, responder) { finish in finish(.json(["status": "ok"]), nil) }
        }
        router.on("GET", "/readyz") { [self] request, responder in
            handle(route: "/readyz", request, responder) { finish in finish(readiness(), nil) }
        }
        router.on("GET", "/metrics") { [self] request, responder in
            handle(route: "/metrics", request, responder) { finish in
                finish(HTTPResponse(status: 200, headers: ["content-type": "text/plain; version=0.0.4; charset=utf-8"], body: metrics.text()), nil)
            }
        }
        router.on("POST", "/admin/reload") { [self] request, responder in
            handle(route: "/admin/reload", request, responder) { finish in adminReload(request, finish) }
        }
        return router
    }

    typealias Finish = @Sendable (HTTPResponse, Int?) -> Void

    /// Runs `body`, whose `finish(response, batchSize)` answers, logs one line and counts the request.
    private func handle(route: String, _ request: HTTPRequest, _ responder: HTTPResponder, _ body: (@escaping Finish) -> Void) {
        let started = clock()
        let (logger, metrics, clock) = (self.logger, self.metrics, self.clock)
        body { response, batchSize in
            // Counted and logged before answering, so a client that has its answer also finds it in /metrics and
            // the log (a few microseconds).
            let nanos = clock() &- started
            metrics.request(route: route, status: response.status, nanos: nanos)
            var fields: Logger.Metadata = [
                "request_id": "\(request.requestID)", "method": "\(request.method)", "route": "\(route)",
                "status": "\(response.status)", "latency_ms": "\(String(format: "%.3f", Double(nanos) / 1e6))",
            ]
            if let batchSize { fields["batch_size"] = "\(batchSize)" }
            logger.info("request", metadata: fields)
            responder.respond(response)
        }
    }

    private func recommend(_ request: HTTPRequest, _ finish: @escaping Finish) {
        guard let model = slot.current else { return finish(APIError(503, "not_ready", notReadyReason()).response, nil) }
        guard request.body.count <= settings.maxBodyBytes else {
            return finish(APIError(413, "body_too_large", "the body has \(request.body.count) bytes, the limit is \(settings.maxBodyBytes)").response, nil)
        }
        let parsed: RecommendRequest
        do { parsed = try RecommendRequest.decode(request.body) } catch { return finish(error.response, nil) }
        let k = parsed.k ?? min(RecommendRequest.defaultK, settings.beams)
        guard (1...settings.beams).contains(k) else {
            return finish(APIError(422, "invalid_k", "k = \(k): must be 1…\(settings.beams) (the beam width)").response, nil)
        }
        let directory = model.bundle.directoryOfItems
        var history: [Int32] = [], unknown: [String] = []
        for id in parsed.history {
            if let index = directory.index(of: id) { history.append(index) } else { unknown.append(id) }
        }
        guard !history.isEmpty else {
            let message = parsed.history.isEmpty ? "history is empty" : "none of the \(parsed.history.count) history items is in the catalog"
            return finish(APIError(422, "no_known_items", message).response, nil)
        }
        let exclude = parsed.excludeHistory ? Set(history) : nil
        let unknownItems = unknown
        let (metrics, version) = (self.metrics, model.version)
        let job = RecommendJob(model: model, history: history, k: k, exclude: exclude) { outcome in
            switch outcome {
            case .deadlineExceeded:
                finish(APIError(504, "deadline_exceeded", "no capacity within \(self.settings.requestTimeoutMilliseconds) ms; retry later").response, nil)
            case .done(let found, let stats):
                metrics.queueWait.recordNanoseconds(Int64(clamping: stats.queueWaitNanos))
                let items = found.map { RecommendResponse.Item(id: directory.externalIDs[Int($0.item)], score: $0.score, title: directory.titles[Int($0.item)]) }
                finish(.json(RecommendResponse(modelVersion: version, items: items, unknownItems: unknownItems)), stats.batchSize)
            }
        }
        guard batcher.submit(job, timeoutNanos: UInt64(settings.requestTimeoutMilliseconds) * 1_000_000) else {
            var response = APIError(503, "overloaded", "the request queue is full (\(settings.queueCapacity)); retry shortly").response
            response.headers.set("retry-after", "1")
            return finish(response, nil)
        }
    }

    private func item(_ request: HTTPRequest) -> HTTPResponse {
        guard let model = slot.current else { return APIError(503, "not_ready", notReadyReason()).response }
        let id = request.pathParameters["id"] ?? ""
        let directory = model.bundle.directoryOfItems
        guard let index = directory.index(of: id) else { return APIError(404, "unknown_item", "no item \"\(id)\" in the catalog").response }
        let codes = Dictionary(directory.codes(of: index).map { ($0.modality, $0.codes) }, uniquingKeysWith: { a, _ in a })
        return .json(ItemResponse(id: id, title: directory.titles[Int(index)], codes: codes))
    }

    private func notReadyReason() -> String {
        if isStopping { return "shutting down" }
        return slot.snapshot.lastReloadError.map { "no bundle loaded: \($0)" } ?? "no bundle loaded yet"
    }

    private func readiness() -> HTTPResponse {
        struct Body: Encodable {
            var status: String
            var modelVersion: String?
            var reason: String?
            var lastReloadError: String?
            enum CodingKeys: String, CodingKey { case status, modelVersion = "model_version", reason, lastReloadError = "last_reload_error" }
        }
        let snapshot = slot.snapshot
        if let model = snapshot.model, !isStopping {
            return .json(Body(status: "ready", modelVersion: model.version, lastReloadError: snapshot.lastReloadError))
        }
        return .json(Body(status: "not_ready", modelVersion: snapshot.model?.version, reason: notReadyReason(),
                          lastReloadError: snapshot.lastReloadError), status: 503)
    }

    private func adminReload(_ request: HTTPRequest, _ finish: @escaping Finish) {
        guard let token = settings.adminToken else {
            return finish(APIError(403, "admin_disabled", "no admin token is configured (reload.adminToken / MSCGREC_RELOAD_ADMIN_TOKEN)").response, nil)
        }
        guard AdminAuthorization.allows(header: request.headers["authorization"], token: token) else {
            var response = APIError(401, "unauthorized", "a valid bearer token is required").response
            response.headers.set("www-authenticate", "Bearer")
            return finish(response, nil)
        }
        reloader.reload(reason: "admin endpoint") { result in
            switch result {
            case .success(let version): finish(.json(["status": "reloaded", "model_version": version]), nil)
            case .failure(let error): finish(APIError(500, "reload_failed", "\(error); the previous bundle keeps serving").response, nil)
            }
        }
    }
}

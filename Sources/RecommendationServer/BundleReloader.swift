import Artifacts
import Dispatch
import Foundation
import Logging

/// Loads, validates and warms a bundle off the request path, then swaps it in; the old model keeps serving until
/// the swap and for every request that already holds it. A failed load leaves the old model serving and is
/// reported (log, `/readyz`, metrics). Triggers (a new `current` target, SIGHUP, the admin endpoint) are serialised
/// on one queue, so two reloads never race.
final class BundleReloader: @unchecked Sendable {
    private let root: URL
    private let slot: ModelSlot
    private let beams: Int
    private let logger: Logger
    private let metrics: ServerMetrics
    private let queue = DispatchQueue(label: "recommend.reload", qos: .utility)
    private var watchTimer: DispatchSourceTimer?
    /// The `current` target of the last attempt (loaded or failed): the watcher retries a failed target only
    /// when `current` moves on; SIGHUP and the admin endpoint retry it at once.
    private var lastTarget: String?
    /// Hooks for systemd: a reload begins (with its reason); it ended, with whether a model is serving.
    var onReloading: @Sendable (String) -> Void = { _ in }
    var onReloaded: @Sendable (Bool) -> Void = { _ in }

    init(root: URL, slot: ModelSlot, beams: Int, logger: Logger, metrics: ServerMetrics) {
        self.root = root; self.slot = slot; self.beams = beams; self.logger = logger; self.metrics = metrics
    }

    /// Where `current` points now (the resolved version directory), nil when there is none yet.
    private func currentTarget() -> String? {
        let link = root.appendingPathComponent(BundlePublisher.currentLink)
        guard FileManager.default.fileExists(atPath: link.path) else { return nil }
        return link.resolvingSymlinksInPath().path
    }

    /// Loads `current` now (on the reload queue); `completion` gets the version served afterwards, or the error.
    func reload(reason: String, completion: (@Sendable (Result<String, any Error>) -> Void)? = nil) {
        queue.async { [self] in
            let result = loadCurrent(reason: reason)
            completion?(result)
        }
    }

    /// Blocks until the reload finished (start-up).
    func reloadNow(reason: String) -> Result<String, any Error> { queue.sync { loadCurrent(reason: reason) } }

    private func loadCurrent(reason: String) -> Result<String, any Error> {
        guard let target = currentTarget() else {
            let message = "\(root.path)/\(BundlePublisher.currentLink) does not exist (publish one with `mscgrec-trainer export --run RUN --out \(root.path)`)"
            slot.recordFailure(message)
            return .failure(SettingsError(message))
        }
        lastTarget = target
        onReloading(reason)
        defer { onReloaded(slot.current != nil) }
        let started = Date()
        do {
            let model = ServingModel(try LoadedBundle.load(URL(fileURLWithPath: target)))
            model.warm(beams: beams)
            let previous = slot.current?.version
            slot.install(model)
            metrics.modelVersion(model.version)
            metrics.reloadSuccesses.increment()
            logger.info("bundle loaded", metadata: [
                "version": "\(model.version)", "previous": "\(previous ?? "none")", "reason": "\(reason)",
                "items": "\(model.bundle.items.itemCount)", "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
            ])
            return .success(model.version)
        } catch {
            slot.recordFailure("\(target): \(error)")
            metrics.reloadFailures.increment()
            logger.error("bundle reload failed, the previous bundle keeps serving", metadata: [
                "target": "\(target)", "reason": "\(reason)", "error": "\(error)", "serving": "\(slot.current?.version ?? "none")",
            ])
            return .failure(error)
        }
    }

    /// Checks `current` every `interval` and reloads when it points somewhere new.
    func startWatching(intervalMilliseconds: Int) {
        guard intervalMilliseconds > 0 else { return }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .milliseconds(intervalMilliseconds), repeating: .milliseconds(intervalMilliseconds))
        timer.setEventHandler { [weak self] in
            guard let self, let target = currentTarget(), target != lastTarget else { return }
            _ = loadCurrent(reason: "current changed")
        }
        timer.activate()
        watchTimer = timer
    }

    func stopWatching() { watchTimer?.cancel() }
}

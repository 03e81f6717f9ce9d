import Artifacts
import Foundation
import Generation

/// A loaded bundle ready to answer: the bundle and its beam search. Requests hold the one they were parsed with
/// (item indices belong to one catalog), so a reload never mixes two bundles in one answer.
public final class ServingModel: Sendable {
    public let bundle: LoadedBundle
    public let search: ConstrainedBeamSearch

    public init(_ bundle: LoadedBundle) {
        self.bundle = bundle
        search = ConstrainedBeamSearch(model: bundle.model, items: bundle.items, tree: bundle.tree)
    }

    public var version: String { bundle.version }

    /// One search on a few real histories before the model takes traffic, so the first request pays no cold caches.
    public func warm(beams: Int) {
        let items = Int32(bundle.items.itemCount)
        guard items > 0 else { return }
        let histories = (0..<4).map { u in (0..<Int32(min(8, Int(items)))).map { ($0 * 7 + Int32(u)) % items } }
        _ = search.recommend(histories: histories, beams: beams, results: 1)
    }
}

/// The model currently serving and the outcome of the last reload, swapped atomically.
public final class ModelSlot: @unchecked Sendable {
    public struct Status: Sendable {
        public var model: ServingModel?
        public var lastReloadError: String?
        public var lastReloadAt: Date?
    }
    private let lock = NSLock()
    private var status = Status()

    public init() {}

    public var current: ServingModel? { lock.withLock { status.model } }
    public var snapshot: Status { lock.withLock { status } }

    func install(_ model: ServingModel) { lock.withLock { status.model = model; status.lastReloadError = nil; status.lastReloadAt = Date() } }
    func recordFailure(_ message: String) { lock.withLock { status.lastReloadError = message; status.lastReloadAt = Date() } }
}

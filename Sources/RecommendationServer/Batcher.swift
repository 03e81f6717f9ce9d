import Dispatch
import Foundation
import Generation

/// One `/recommend` request on its way through the batcher.
struct RecommendJob: Sendable {
    var model: ServingModel
    var history: [Int32]
    var k: Int
    var exclude: Set<Int32>?
    var complete: @Sendable (BatchOutcome) -> Void
}

enum BatchOutcome: Sendable {
    case done([Recommendation], BatchStats)
    case deadlineExceeded
}

struct BatchStats: Sendable {
    var batchSize: Int
    var queueWaitNanos: UInt64
    var computeNanos: UInt64
}

/// The thin shell around `BatchQueue`: a lock, a timer, and `workers` concurrent batch computations (single-threaded
/// BLAS in each, so the workers use the cores).
final class Batcher: @unchecked Sendable {
    private let lock = NSLock()
    private var queue: BatchQueue<RecommendJob>
    private let clock: @Sendable () -> UInt64
    private let beams: Int
    private let timer: DispatchSourceTimer
    private let timerQueue = DispatchQueue(label: "recommend.batcher.timer", qos: .userInitiated)
    private let workerQueue = DispatchQueue(label: "recommend.batcher.worker", qos: .userInitiated, attributes: .concurrent)
    private let onDepth: @Sendable (Int) -> Void
    private let onBatch: @Sendable (_ size: Int, _ computeNanos: UInt64) -> Void

    init(settings: BatchQueue<RecommendJob>.Settings, beams: Int, clock: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds },
         onDepth: @escaping @Sendable (Int) -> Void = { _ in }, onBatch: @escaping @Sendable (Int, UInt64) -> Void = { _, _ in }) {
        queue = BatchQueue(settings)
        self.clock = clock
        self.beams = beams
        self.onDepth = onDepth
        self.onBatch = onBatch
        timer = DispatchSource.makeTimerSource(queue: timerQueue)
        timer.schedule(deadline: .distantFuture)
        timer.setEventHandler { [weak self] in self?.pump() }
        timer.activate()
    }

    deinit { timer.cancel() }

    var depth: Int { lock.withLock { queue.depth } }

    /// False when the queue is full (answer 503).
    func submit(_ job: RecommendJob, timeoutNanos: UInt64) -> Bool {
        let now = clock()
        let accepted = lock.withLock { queue.submit(job, now: now, deadline: now &+ timeoutNanos) }
        if accepted { pump() }
        return accepted
    }

    private func pump() {
        while true {
            // The timer is re-armed under the lock, so an older poll's wake time never overrides a newer one's.
            let (step, depth): (BatchQueue<RecommendJob>.Step, Int) = lock.withLock {
                let now = clock()
                let step = queue.poll(now: now)
                if step.batch.isEmpty, let wake = step.wakeAt {
                    let delta = wake > now ? wake - now : 0
                    timer.schedule(deadline: .now() + .nanoseconds(Int(min(delta, 3_600_000_000_000))))
                }
                return (step, queue.depth)
            }
            onDepth(depth)
            for entry in step.expired { entry.job.complete(.deadlineExceeded) }
            guard !step.batch.isEmpty else { return }
            let batch = step.batch
            workerQueue.async { [self] in
                run(batch, started: clock())
                lock.withLock { queue.workerFinished() }
                pump()
            }
        }
    }

    private func run(_ batch: [BatchQueue<RecommendJob>.Waiting], started: UInt64) {
        // A reload may have happened between two requests of one batch: search each model's requests together.
        var groups: [ObjectIdentifier: [BatchQueue<RecommendJob>.Waiting]] = [:]
        for entry in batch { groups[ObjectIdentifier(entry.job.model), default: []].append(entry) }
        for group in groups.values {
            let model = group[0].job.model
            let excluding = group.contains { $0.job.exclude != nil }
            let results = group.map(\.job.k).max()!
            let found = model.search.recommend(histories: group.map(\.job.history), beams: beams, results: results,
                                               exclude: excluding ? group.map { $0.job.exclude ?? [] } : nil,
                                               usersPerBatch: group.count)
            let finished = clock()
            onBatch(group.count, finished &- started)
            for (entry, recommendations) in zip(group, found) {
                let stats = BatchStats(batchSize: batch.count, queueWaitNanos: started &- entry.enqueued, computeNanos: finished &- started)
                entry.job.complete(.done(Array(recommendations.prefix(entry.job.k)), stats))
            }
        }
    }
}

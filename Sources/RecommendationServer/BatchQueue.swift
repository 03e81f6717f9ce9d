/// The dynamic-batching decisions, with no I/O and no clock of its own (times are passed in, in nanoseconds), so
/// tests drive it step by step. A batch leaves when a worker is free and either `maxBatch` requests wait or the
/// oldest has waited `maxDelay`; while every worker is busy requests accumulate, so batches grow with the load.
/// Requests past their deadline leave as `expired` (the shell answers 504) instead of being computed.
public struct BatchQueue<Job: Sendable>: Sendable {
    public struct Settings: Sendable, Equatable {
        public var maxBatch: Int
        public var maxDelayNanos: UInt64
        /// Waiting requests beyond this are refused (the shell answers 503 with Retry-After).
        public var capacity: Int
        public var workers: Int
        public init(maxBatch: Int, maxDelayNanos: UInt64, capacity: Int, workers: Int) {
            self.maxBatch = max(1, maxBatch); self.maxDelayNanos = maxDelayNanos
            self.capacity = max(1, capacity); self.workers = max(1, workers)
        }
    }

    public struct Waiting: Sendable {
        public var job: Job
        public var enqueued: UInt64
        public var deadline: UInt64
    }

    /// What the shell does next: run `batch` on a worker, answer `expired`, and call `poll` again at `wakeAt`.
    public struct Step: Sendable {
        public var batch: [Waiting] = []
        public var expired: [Waiting] = []
        public var wakeAt: UInt64?
    }

    public let settings: Settings
    private var waiting: [Waiting] = []
    private var head = 0
    public private(set) var idleWorkers: Int

    public init(_ settings: Settings) {
        self.settings = settings
        idleWorkers = settings.workers
    }

    public var depth: Int { waiting.count - head }

    /// False when the queue is full.
    public mutating func submit(_ job: Job, now: UInt64, deadline: UInt64) -> Bool {
        guard depth < settings.capacity else { return false }
        waiting.append(Waiting(job: job, enqueued: now, deadline: deadline))
        return true
    }

    /// A worker finished its batch.
    public mutating func workerFinished() {
        idleWorkers = min(settings.workers, idleWorkers + 1)
    }

    /// Takes what is due at `now`. Call after every submit, every finished batch and at `wakeAt`; call again while
    /// it returns a batch (another idle worker may take the next one).
    public mutating func poll(now: UInt64) -> Step {
        var step = Step()
        // Expired requests leave wherever they are in the queue (deadlines differ per request).
        if waiting[head...].contains(where: { $0.deadline <= now }) {
            var kept: [Waiting] = []
            for entry in waiting[head...] {
                if entry.deadline <= now { step.expired.append(entry) } else { kept.append(entry) }
            }
            waiting = kept
            head = 0
        }
        if idleWorkers > 0, depth > 0 {
            let due = depth >= settings.maxBatch || now >= waiting[head].enqueued &+ settings.maxDelayNanos
            if due {
                let end = min(waiting.count, head + settings.maxBatch)
                step.batch = Array(waiting[head..<end])
                head = end
                idleWorkers -= 1
                compact()
            }
        }
        var wake: UInt64?
        if depth > 0 {
            if idleWorkers > 0 { wake = waiting[head].enqueued &+ settings.maxDelayNanos }
            let earliestDeadline = waiting[head...].lazy.map(\.deadline).min()!
            wake = min(wake ?? .max, earliestDeadline)
        }
        step.wakeAt = wake
        return step
    }

    private mutating func compact() {
        if head > 1024 && head * 2 > waiting.count {
            waiting.removeFirst(head)
            head = 0
        }
    }
}

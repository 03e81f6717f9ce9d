import RecommendationServer
import XCTest

/// The batching decisions, driven with explicit times (nanoseconds).
final class BatchQueueTests: XCTestCase {
    private func queue(maxBatch: Int = 4, delay: UInt64 = 2_000, capacity: Int = 8, workers: Int = 1) -> BatchQueue<Int> {
        BatchQueue(.init(maxBatch: maxBatch, maxDelayNanos: delay, capacity: capacity, workers: workers))
    }

    func testABatchWaitsForTheDelayThenLeavesWithEverythingQueued() {
        var q = queue()
        XCTAssertTrue(q.submit(1, now: 100, deadline: 1_000_000))
        XCTAssertTrue(q.submit(2, now: 600, deadline: 1_000_000))
        var step = q.poll(now: 700)
        XCTAssertEqual(step.batch.map(\.job), [])
        XCTAssertEqual(step.wakeAt, 2_100, "wake when the oldest has waited the delay")
        step = q.poll(now: 2_100)
        XCTAssertEqual(step.batch.map(\.job), [1, 2])
        XCTAssertEqual(step.batch.map(\.enqueued), [100, 600])
        XCTAssertEqual(q.depth, 0)
        XCTAssertNil(step.wakeAt)
    }

    func testAFullBatchLeavesAtOnce() {
        var q = queue()
        for job in 1...5 { XCTAssertTrue(q.submit(job, now: 10, deadline: .max)) }
        XCTAssertEqual(q.poll(now: 10).batch.map(\.job), [1, 2, 3, 4])
        XCTAssertEqual(q.depth, 1)
    }

    func testBusyWorkersLetTheBatchGrowAndTheNextLeavesWhenOneFrees() {
        var q = queue(maxBatch: 3, workers: 1)
        XCTAssertTrue(q.submit(1, now: 0, deadline: .max))
        XCTAssertEqual(q.poll(now: 2_000).batch.map(\.job), [1])
        XCTAssertEqual(q.idleWorkers, 0)
        for job in 2...4 { XCTAssertTrue(q.submit(job, now: 2_500, deadline: .max)) }
        let waiting = q.poll(now: 9_000)
        XCTAssertEqual(waiting.batch.count, 0, "no idle worker: nothing leaves even past the delay")
        XCTAssertEqual(waiting.wakeAt, .max, "only the deadline would wake it; the finished worker polls")
        q.workerFinished()
        XCTAssertEqual(q.poll(now: 9_001).batch.map(\.job), [2, 3, 4])
    }

    func testTwoWorkersTakeTwoBatches() {
        var q = queue(maxBatch: 2, workers: 2)
        for job in 1...5 { XCTAssertTrue(q.submit(job, now: 0, deadline: .max)) }
        XCTAssertEqual(q.poll(now: 0).batch.map(\.job), [1, 2])
        XCTAssertEqual(q.poll(now: 0).batch.map(\.job), [3, 4])
        XCTAssertEqual(q.poll(now: 0).batch.map(\.job), [], "both workers busy")
    }

    func testAFullQueueRefuses() {
        var q = queue(capacity: 2)
        XCTAssertTrue(q.submit(1, now: 0, deadline: .max))
        XCTAssertTrue(q.submit(2, now: 0, deadline: .max))
        XCTAssertFalse(q.submit(3, now: 0, deadline: .max))
        XCTAssertEqual(q.depth, 2)
    }

    func testRequestsPastTheirDeadlineLeaveAsExpired() {
        var q = queue(maxBatch: 4, workers: 1)
        XCTAssertTrue(q.submit(1, now: 0, deadline: .max))
        _ = q.poll(now: 5_000)                                  // worker busy with job 1
        XCTAssertTrue(q.submit(2, now: 5_000, deadline: 8_000))
        XCTAssertTrue(q.submit(3, now: 5_100, deadline: 20_000))
        XCTAssertEqual(q.poll(now: 6_000).wakeAt, 8_000, "wake at the earliest deadline while the worker is busy")
        let step = q.poll(now: 8_000)
        XCTAssertEqual(step.expired.map(\.job), [2])
        XCTAssertEqual(q.depth, 1)
        q.workerFinished()
        XCTAssertEqual(q.poll(now: 8_001).batch.map(\.job), [3])
    }

    func testBatchingOffIsABatchOfOne() {
        var q = queue(maxBatch: 1, delay: 0, workers: 2)
        for job in 1...3 { XCTAssertTrue(q.submit(job, now: 0, deadline: .max)) }
        XCTAssertEqual(q.poll(now: 0).batch.map(\.job), [1])
        XCTAssertEqual(q.poll(now: 0).batch.map(\.job), [2])
    }
}

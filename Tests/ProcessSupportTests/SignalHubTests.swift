import Dispatch
import Foundation
import XCTest
@testable import ProcessSupport

/// Delivery through the shared hub. Each test cancels its subscriptions; the hub keeps the handlers installed, so a
/// stray signal after a test is counted and dropped rather than ending the test process.
final class SignalHubTests: XCTestCase {
    func testTwoSubscribersToTheSameSignalAreBothCalledInSubscriptionOrder() {
        let calls = Recorder()
        let secondCalled = expectation(description: "second subscriber called")
        let first = SignalHub.shared.subscribe([SIGUSR1]) { calls.append("first \($0)") }
        let second = SignalHub.shared.subscribe([SIGUSR1]) { number in
            calls.append("second \(number)")
            secondCalled.fulfill()
        }
        defer { first.cancel(); second.cancel() }
        raise(SIGUSR1)
        wait(for: [secondCalled], timeout: 5)
        XCTAssertEqual(calls.values, ["first \(SIGUSR1)", "second \(SIGUSR1)"])
    }

    func testCancelledSubscriberIsNotCalledAnyMore() {
        let calls = Recorder()
        let cancelled = SignalHub.shared.subscribe([SIGUSR2]) { _ in calls.append("cancelled") }
        let keptCalled = expectation(description: "kept subscriber called")
        keptCalled.expectedFulfillmentCount = 2
        // Subscribed after the cancelled one, so on the hub's serial queue its call comes later: once it has run, a
        // call to the cancelled one would have happened already.
        let kept = SignalHub.shared.subscribe([SIGUSR2]) { _ in
            calls.append("kept")
            keptCalled.fulfill()
        }
        defer { kept.cancel() }
        cancelled.cancel()
        cancelled.cancel()  // idempotent
        raise(SIGUSR2)
        SignalHub.shared.unsubscribe(cancelled)
        raise(SIGUSR2)
        wait(for: [keptCalled], timeout: 5)
        XCTAssertEqual(calls.values, ["kept", "kept"])
    }

    func testHandlerRunsOnTheGivenQueue() {
        let key = DispatchSpecificKey<String>()
        let queue = DispatchQueue(label: "signal-hub-test")
        queue.setSpecific(key: key, value: "the test queue")
        let seen = Recorder()
        let called = expectation(description: "handler called")
        let subscription = SignalHub.shared.subscribe([SIGUSR1], queue: queue) { _ in
            seen.append(DispatchQueue.getSpecific(key: key) ?? "another queue")
            called.fulfill()
        }
        defer { subscription.cancel() }
        raise(SIGUSR1)
        wait(for: [called], timeout: 5)
        XCTAssertEqual(seen.values, ["the test queue"])
    }

    func testCountIsUpdatedByTheHandlerBeforeRaiseReturns() {
        let subscription = SignalHub.shared.subscribe([SIGUSR2]) { _ in }
        defer { subscription.cancel() }
        let before = SignalHub.shared.count(of: SIGUSR2)
        raise(SIGUSR2)  // runs the handler on this thread before returning
        XCTAssertEqual(SignalHub.shared.count(of: SIGUSR2), before + 1)
        raise(SIGUSR2)
        XCTAssertEqual(SignalHub.shared.count(of: SIGUSR2), before + 2)
        XCTAssertEqual(SignalHub.shared.count(of: SIGWINCH), 0, "a signal the hub never handled counts nothing")
    }

    /// Forked children, so the immediate exit ends them and not the test process; they only call raise and _exit
    /// (async-signal-safe, as a child of a multi-threaded process must). SIGVTALRM and SIGPROF: nothing in the test
    /// process sends them.
    func testSecondSignalOfTheImmediateExitGroupEndsTheProcessAndTheFirstDoesNot() {
        SignalHub.shared.installImmediateExit(onRepeat: [SIGVTALRM, SIGPROF])
        XCTAssertEqual(exitStatusOfChild { raise(SIGVTALRM) }, 0, "the first signal only asks for a stop")
        XCTAssertEqual(exitStatusOfChild { raise(SIGVTALRM); raise(SIGPROF) }, 128 + SIGPROF,
                       "a second signal of the group, of either kind, exits at once with 128 + signal")
    }

    private func exitStatusOfChild(_ body: () -> Void) -> Int32 {
        let pid = fork()
        if pid == 0 {
            body()
            _exit(0)
        }
        var status: Int32 = 0
        guard pid > 0, waitpid(pid, &status, 0) == pid else { return -1 }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -(status & 0x7f)  // WEXITSTATUS, or minus the signal
    }
}

/// Handler calls, recorded from whichever queue they run on.
final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [String] = []

    func append(_ value: String) {
        lock.lock()
        recorded.append(value)
        lock.unlock()
    }

    var values: [String] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }
}

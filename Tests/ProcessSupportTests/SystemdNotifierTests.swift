import Dispatch
import Foundation
import XCTest
@testable import ProcessSupport

/// The notifier against real AF_UNIX datagram sockets standing in for systemd's.
final class SystemdNotifierTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    func testEachCallSendsExactlyItsMessageToAPathSocket() throws {
        let path = directory.appendingPathComponent("notify.sock").path
        let receiver = try DatagramReceiver(socketName: path)
        let failures = Recorder()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path]) { failures.append("\($0)") }
        XCTAssertTrue(notifier.isEnabled)

        notifier.ready()
        XCTAssertEqual(receiver.next(), "READY=1")
        let before = SystemdNotifier.monotonicMicroseconds()
        notifier.reloading()
        let after = SystemdNotifier.monotonicMicroseconds()
        let reloading = try XCTUnwrap(receiver.next())
        XCTAssertTrue(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="), reloading)
        let stamp = try XCTUnwrap(UInt64(reloading.dropFirst("RELOADING=1\nMONOTONIC_USEC=".count)), reloading)
        XCTAssertTrue((before...after).contains(stamp), "MONOTONIC_USEC \(stamp) not within [\(before), \(after)]")
        notifier.status("loading bundle\nv3")
        XCTAssertEqual(receiver.next(), "STATUS=loading bundle v3")
        notifier.watchdog()
        XCTAssertEqual(receiver.next(), "WATCHDOG=1")
        notifier.stopping()
        XCTAssertEqual(receiver.next(), "STOPPING=1")
        XCTAssertNil(receiver.next(timeoutMilliseconds: 100), "one datagram per call")
        XCTAssertEqual(failures.values, [])
    }

    func testAbstractSocketName() throws {
        let name = "@mscgrec-notify-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        let receiver = try DatagramReceiver(socketName: name)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": name]) { XCTFail("unexpected failure: \($0)") }
        notifier.ready()
        notifier.stopping()
        XCTAssertEqual(receiver.next(), "READY=1")
        XCTAssertEqual(receiver.next(), "STOPPING=1")
    }

    func testNoWatchdogWithoutAnIntervalForThisProcess() throws {
        let path = directory.appendingPathComponent("no-watchdog.sock").path
        let receiver = try DatagramReceiver(socketName: path)
        let other = "\(getpid() + 1)"
        XCTAssertFalse(SystemdNotifier(environment: ["NOTIFY_SOCKET": path]).startWatchdog())
        XCTAssertFalse(SystemdNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": other]).startWatchdog())
        XCTAssertNil(receiver.next(timeoutMilliseconds: 300))
    }

    func testWatchdogIntervalFromTheEnvironment() {
        let me = getpid()
        func interval(_ environment: [String: String]) -> Duration? {
            SystemdNotifier(environment: environment, processID: me).watchdogInterval
        }
        XCTAssertEqual(interval(["WATCHDOG_USEC": "2000000"]), .seconds(2))
        XCTAssertEqual(interval(["WATCHDOG_USEC": "1500", "WATCHDOG_PID": "\(me)"]), .microseconds(1500))
        XCTAssertNil(interval(["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "\(me + 1)"]), "meant for another process")
        XCTAssertNil(interval(["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "abc"]))
        XCTAssertNil(interval(["WATCHDOG_USEC": "0"]))
        XCTAssertNil(interval(["WATCHDOG_USEC": "-5"]))
        XCTAssertNil(interval(["WATCHDOG_USEC": "2s"]))
        XCTAssertNil(interval([:]))
    }

    func testWatchdogPingsEveryHalfInterval() throws {
        let path = directory.appendingPathComponent("watchdog.sock").path
        let receiver = try DatagramReceiver(socketName: path)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"])
        let started = Date()
        XCTAssertTrue(notifier.startWatchdog())
        XCTAssertTrue(notifier.startWatchdog(), "a second start keeps the one timer")
        for _ in 0..<3 { XCTAssertEqual(receiver.next(timeoutMilliseconds: 2000), "WATCHDOG=1") }
        // First ping at once, then every 500 ms: the third after about 1 s; pinging every full interval would take 2 s,
        // a second timer 0.5 s.
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertTrue(elapsed > 0.75 && elapsed < 1.75, "three pings took \(elapsed) s")
        notifier.stopWatchdog()
        while receiver.next(timeoutMilliseconds: 50) != nil {}  // one may have been in flight
        XCTAssertNil(receiver.next(timeoutMilliseconds: 500), "no ping after stopWatchdog")
    }

    func testWithoutNotifySocketEverythingIsANoOp() throws {
        let notifier = SystemdNotifier(environment: ["WATCHDOG_USEC": "2000000"]) { XCTFail("unexpected failure: \($0)") }
        XCTAssertFalse(notifier.isEnabled)
        XCTAssertNil(notifier.socketName)
        XCTAssertNoThrow(try notifier.send("READY=1"))
        notifier.ready()
        notifier.watchdog()
        XCTAssertFalse(notifier.startWatchdog(), "no watchdog without a socket to ping")
        XCTAssertFalse(SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]).isEnabled)
    }

    func testUnreachableSocketIsReportedOnceAndNeverThrowsFromTheNamedCalls() {
        let path = directory.appendingPathComponent("nobody-listens.sock").path
        let failures = Recorder()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path]) { failures.append("\($0)") }
        notifier.ready()
        notifier.watchdog()
        notifier.stopping()
        XCTAssertEqual(failures.values, ["systemd notify: sending to '\(path)' failed: No such file or directory"])
        XCTAssertThrowsError(try notifier.send("READY=1")) { error in
            XCTAssertEqual(error as? SystemdNotifyError, .sendFailed(address: path, errno: ENOENT))
        }
    }

    func testMalformedSocketNamesAreTypedErrors() {
        let tooLong = "/" + String(repeating: "x", count: 200)
        for name in ["relative/notify.sock", "@", tooLong] {
            let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": name]) { _ in }
            XCTAssertThrowsError(try notifier.send("READY=1"), name) { error in
                XCTAssertEqual(error as? SystemdNotifyError, .invalidSocketAddress(name))
            }
        }
    }
}

/// A bound AF_UNIX datagram socket: a path, or `@name` for the abstract namespace (as NOTIFY_SOCKET spells them).
final class DatagramReceiver {
    private let fd: Int32
    private let path: String?

    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    init(socketName: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw SetupError(description: "socket: errno \(errno)") }
        var bytes = Array(socketName.utf8)
        if socketName.hasPrefix("@") { bytes[0] = 0; path = nil } else { path = socketName }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { for (i, byte) in bytes.enumerated() { $0[i] = byte } }
        let length = socklen_t(MemoryLayout.offset(of: \sockaddr_un.sun_path)! + bytes.count)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else {
            close(fd)
            throw SetupError(description: "bind '\(socketName)': errno \(errno)")
        }
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }

    /// The next datagram's text, or nil when none arrives in time.
    func next(timeoutMilliseconds: Int32 = 2000) -> String? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        // A signal (SIGCHLD when a child process exits) interrupts poll and recv; that is not a timeout.
        var ready: Int32
        repeat { ready = poll(&poller, 1, timeoutMilliseconds) } while ready < 0 && errno == EINTR
        guard ready == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var n: Int
        repeat { n = recv(fd, &buffer, buffer.count, 0) } while n < 0 && errno == EINTR
        return n < 0 ? nil : String(decoding: buffer[0..<n], as: UTF8.self)
    }
}

import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a notification did not reach systemd.
public enum SystemdNotifyError: Error, Equatable, CustomStringConvertible {
    /// NOTIFY_SOCKET is neither an absolute path nor `@name`, or does not fit in `sockaddr_un`.
    case invalidSocketAddress(String)
    case socketFailed(errno: Int32)
    case sendFailed(address: String, errno: Int32)

    public var description: String {
        switch self {
        case .invalidSocketAddress(let text): return "NOTIFY_SOCKET '\(text)' is not an absolute path or @abstract name that fits sockaddr_un"
        case .socketFailed(let code): return "systemd notify: socket() failed: \(String(cString: strerror(code)))"
        case .sendFailed(let address, let code): return "systemd notify: sending to '\(address)' failed: \(String(cString: strerror(code)))"
        }
    }
}

/// The sd_notify(3) protocol without libsystemd: newline-separated `KEY=VALUE` datagrams to the AF_UNIX socket named
/// by NOTIFY_SOCKET. A no-op when NOTIFY_SOCKET is unset (not started by systemd, or Type= is not notify). Failures
/// never throw from the named calls (a missing supervisor must not stop the server); the first one is reported.
public final class SystemdNotifier: @unchecked Sendable {  // immutable but for the lock-guarded vars
    /// NOTIFY_SOCKET as given; nil when unset or empty.
    public let socketName: String?
    /// How often systemd expects WATCHDOG=1: WATCHDOG_USEC, unless WATCHDOG_PID names another process. nil = no watchdog.
    public let watchdogInterval: Duration?
    private let address: Result<[UInt8], SystemdNotifyError>?
    private let reportFailure: @Sendable (SystemdNotifyError) -> Void
    private let lock = NSLock()
    private var reportedFailure = false
    private var watchdogTimer: DispatchSourceTimer?

    /// `environment` and `processID` are injectable for tests; `reportFailure` gets the first failed named call.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, processID: Int32 = getpid(),
                reportFailure: @escaping @Sendable (SystemdNotifyError) -> Void = SystemdNotifier.writeToStandardError) {
        let name = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketName = name
        address = name.map(SystemdNotifier.socketAddressBytes)
        watchdogInterval = SystemdNotifier.watchdogInterval(environment: environment, processID: processID)
        self.reportFailure = reportFailure
    }

    public var isEnabled: Bool { socketName != nil }

    /// Startup finished: the server answers requests.
    public func ready() { notify("READY=1") }

    /// A configuration reload began; systemd wants the CLOCK_MONOTONIC time with it, and `ready()` when it ends.
    public func reloading() { notify("RELOADING=1\nMONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds())") }

    /// Shutdown began (systemd then waits up to TimeoutStopSec for the exit).
    public func stopping() { notify("STOPPING=1") }

    /// Free-form status line shown by `systemctl status`; newlines would end the field, so they become spaces.
    public func status(_ text: String) { notify("STATUS=" + text.replacingOccurrences(of: "\n", with: " ")) }

    /// The process is alive; systemd restarts it when these stop for longer than the watchdog interval.
    public func watchdog() { notify("WATCHDOG=1") }

    /// Pings `watchdog()` every half interval (the sd_watchdog_enabled(3) advice), the first at once, until
    /// `stopWatchdog()`. The notifier owns the timer (a dropped Dispatch timer would silently stop). Returns false when
    /// there is no watchdog (no socket or no WATCHDOG_USEC for this process); a second call changes nothing.
    @discardableResult
    public func startWatchdog(queue: DispatchQueue = DispatchQueue(label: "systemd.watchdog")) -> Bool {
        guard isEnabled, let interval = watchdogInterval else { return false }
        lock.lock()
        defer { lock.unlock() }
        if watchdogTimer != nil { return true }
        let micros = interval.components.seconds * 1_000_000 + interval.components.attoseconds / 1_000_000_000_000
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now(), repeating: .microseconds(Int(max(micros / 2, 1))), leeway: .milliseconds(10))
        timer.setEventHandler { [weak self] in self?.watchdog() }
        timer.activate()
        watchdogTimer = timer
        return true
    }

    public func stopWatchdog() {
        lock.lock()
        let timer = watchdogTimer
        watchdogTimer = nil
        lock.unlock()
        timer?.cancel()
    }

    deinit { watchdogTimer?.cancel() }

    /// Sends one datagram; nothing when disabled.
    public func send(_ message: String) throws(SystemdNotifyError) {
        guard let address, let name = socketName else { return }
        let bytes = try address.get()
        #if os(Linux)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let flags = Int32(MSG_NOSIGNAL)
        #else
        let fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        let flags: Int32 = 0
        #endif
        guard fd >= 0 else { throw .socketFailed(errno: errno) }
        defer { close(fd) }
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { path in
            for (i, byte) in bytes.enumerated() { path[i] = byte }
        }
        let length = socklen_t(MemoryLayout.offset(of: \sockaddr_un.sun_path)! + bytes.count)
        let payload = Array(message.utf8)
        let sent = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, payload, payload.count, flags, $0, length) }
        }
        guard sent == payload.count else { throw .sendFailed(address: name, errno: sent < 0 ? errno : EMSGSIZE) }
    }

    public static let writeToStandardError: @Sendable (SystemdNotifyError) -> Void = { error in
        FileHandle.standardError.write(Data("\(error) (further failures are not reported)\n".utf8))
    }

    private func notify(_ message: String) {
        do {
            try send(message)
        } catch {
            // Once only: a dead socket would otherwise log every watchdog ping.
            lock.lock()
            let first = !reportedFailure
            reportedFailure = true
            lock.unlock()
            if first { reportFailure(error) }
        }
    }

    /// `sun_path` bytes for the address: a path with its terminating NUL, or `@name` as a leading NUL (abstract).
    static func socketAddressBytes(_ name: String) -> Result<[UInt8], SystemdNotifyError> {
        let capacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)
        var bytes = Array(name.utf8)
        switch bytes.first {
        case UInt8(ascii: "/"): bytes.append(0)
        case UInt8(ascii: "@"): bytes[0] = 0
        default: return .failure(.invalidSocketAddress(name))
        }
        guard bytes.count <= capacity, bytes.count > 1 else { return .failure(.invalidSocketAddress(name)) }
        return .success(bytes)
    }

    static func watchdogInterval(environment: [String: String], processID: Int32) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let micros = UInt64(text), micros > 0 else { return nil }
        if let pidText = environment["WATCHDOG_PID"], !pidText.isEmpty {
            // systemd sets it to the main PID; a child that inherited the environment must not ping for its parent.
            guard let pid = Int32(pidText), pid == processID else { return nil }
        }
        return .microseconds(Int64(clamping: micros))
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }
}

import Foundation

/// Collects access-log lines and writes them in batches from a background queue, so a request never waits for a
/// terminal or a pipe.
final class AccessLogWriter: @unchecked Sendable {
    private let destination: AccessLogDestination
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private var flushScheduled = false
    private let queue = DispatchQueue(label: "http.access-log")

    init(_ destination: AccessLogDestination) { self.destination = destination }

    var isEnabled: Bool {
        if case .none = destination { return false }
        return true
    }

    func write(_ line: String) {
        let fd: Int32
        switch destination {
        case .none: return
        case .custom(let sink):
            sink(line)
            return
        case .standardOutput: fd = 1
        case .standardError: fd = 2
        }
        lock.lock()
        buffer.append(contentsOf: line.utf8)
        buffer.append(10)
        let schedule = !flushScheduled
        flushScheduled = true
        lock.unlock()
        if schedule {
            queue.asyncAfter(deadline: .now() + .milliseconds(50)) { self.flush(fd) }
        }
    }

    private func flush(_ fd: Int32) {
        lock.lock()
        let bytes = buffer
        buffer.removeAll(keepingCapacity: true)
        flushScheduled = false
        lock.unlock()
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { break }
            offset += n
        }
    }
}

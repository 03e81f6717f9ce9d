import Dispatch
import Foundation

/// Write end of the self-pipe the SIGHUP handler writes to. Set once before the handler is installed and never
/// changed, so the handler only reads an initialised global.
nonisolated(unsafe) private var reloadPipeWriteEnd: Int32 = -1

/// SIGHUP -> certificate reload for every registered server.
///
/// On Linux a Dispatch signal source only sees signals that are blocked in every thread (it reads a signalfd), which a
/// library cannot arrange; ignoring the signal would discard it. So a plain handler writes one byte to a pipe
/// (async-signal-safe), and a Dispatch read source on the pipe does the reload on an ordinary queue.
final class ReloadSignal: @unchecked Sendable {
    static let shared = ReloadSignal()

    private let lock = NSLock()
    private var servers: [ObjectIdentifier: WeakServer] = [:]
    private var source: DispatchSourceRead?
    private let queue = DispatchQueue(label: "http.reload-signal")

    private struct WeakServer { weak var server: HTTPServer? }

    func register(_ server: HTTPServer) {
        lock.lock()
        defer { lock.unlock() }
        servers[ObjectIdentifier(server)] = WeakServer(server: server)
        if source == nil { install() }
    }

    func unregister(_ server: HTTPServer) {
        lock.lock()
        servers[ObjectIdentifier(server)] = nil
        lock.unlock()
    }

    /// Called with `lock` held, once per process.
    private func install() {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return }
        for fd in ends { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK) }
        reloadPipeWriteEnd = ends[1]
        let readEnd = ends[0]
        let source = DispatchSource.makeReadSource(fileDescriptor: readEnd, queue: queue)
        source.setEventHandler { [self] in
            var drain = [UInt8](repeating: 0, count: 64)
            while read(readEnd, &drain, drain.count) > 0 {}
            reloadAll()
        }
        source.activate()
        self.source = source
        signal(SIGHUP) { _ in
            var byte: UInt8 = 1
            _ = write(reloadPipeWriteEnd, &byte, 1)
        }
    }

    private func reloadAll() {
        lock.lock()
        let targets = servers.values.compactMap(\.server)
        lock.unlock()
        for server in targets {
            do {
                try server.reloadCertificates()
            } catch {
                FileHandle.standardError.write(Data("certificate reload failed, keeping the old one: \(error)\n".utf8))
            }
        }
    }
}

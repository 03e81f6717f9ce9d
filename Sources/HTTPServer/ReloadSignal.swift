import Dispatch
import Foundation
import ProcessSupport

/// SIGHUP -> certificate reload for every registered server, through the process's one signal hub (so the
/// application can also subscribe to SIGHUP, e.g. for its own configuration reload).
final class ReloadSignal: @unchecked Sendable {
    static let shared = ReloadSignal()

    private let lock = NSLock()
    private var servers: [ObjectIdentifier: WeakServer] = [:]
    /// Kept for the life of the process once taken, as the old handler was: SIGHUP then never takes its default action.
    private var subscription: SignalSubscription?
    private let queue = DispatchQueue(label: "http.reload-signal")

    private struct WeakServer { weak var server: HTTPServer? }

    func register(_ server: HTTPServer) {
        lock.lock()
        defer { lock.unlock() }
        servers[ObjectIdentifier(server)] = WeakServer(server: server)
        if subscription == nil {
            subscription = SignalHub.shared.subscribe([SIGHUP], queue: queue) { [self] _ in reloadAll() }
        }
    }

    func unregister(_ server: HTTPServer) {
        lock.lock()
        servers[ObjectIdentifier(server)] = nil
        lock.unlock()
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

import Dispatch
import Foundation
import HTTPCore

/// Bookkeeping for one request: its id, and what the access log needs. Confined to the connection's queue.
final class Exchange: @unchecked Sendable {
    let streamID: Int64
    let requestID: String
    let method: String
    let target: String
    let version: HTTPVersion
    let started: UInt64
    let logging: Bool
    var status = 0
    var bytes = 0

    init(streamID: Int64, request: HTTPRequest, logging: Bool) {
        self.streamID = streamID
        requestID = request.requestID
        method = request.method
        target = request.target
        version = request.version
        self.logging = logging
        started = logging ? Connection.now() : 0
    }

    func finish(remoteAddress: String) -> AccessLogEntry? {
        guard logging else { return nil }
        let seconds = Double(Connection.now() - started) / 1e9
        return AccessLogEntry(time: Date(), remoteAddress: remoteAddress, method: method, target: target, version: version,
                              status: status, responseBytes: bytes, durationSeconds: seconds, requestID: requestID)
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking loopback TCP client for sending hand-made (often broken) bytes. Reads time out, so tests stay bounded.
public final class RawClient {
    public let fd: Int32

    public init(port: UInt16, receiveBuffer: Int32? = nil, readTimeout: TimeInterval = 3) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var tv = timeval(tv_sec: Int(readTimeout), tv_usec: Int((readTimeout - readTimeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rv = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rv == 0 else {
            let code = errno
            Glibc.close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
    }

    deinit { Glibc.close(fd) }

    /// Sends everything; false if the peer is gone.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads until the server closes the connection (or the read timeout hits). `closed` tells which.
    public func readToEnd(limit: Int = 64 << 20) -> (bytes: [UInt8], closed: Bool) {
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while all.count < limit {
            let n = receive(into: &buffer)
            if n > 0 {
                all.append(contentsOf: buffer[0..<n])
            } else {
                return (all, n == 0 || errno == ECONNRESET)
            }
        }
        return (all, false)
    }

    /// Reads until `marker` has arrived (or timeout / close).
    public func read(until marker: String) -> String {
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !String(decoding: all, as: UTF8.self).contains(marker) {
            let n = receive(into: &buffer)
            if n <= 0 { break }
            all.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: all, as: UTF8.self)
    }

    /// recv, retried when a signal interrupts it: the test process gets SIGCHLD whenever a client it started (curl,
    /// nghttp) exits, and an interrupted read is not the end of the response.
    private func receive(into buffer: inout [UInt8]) -> Int {
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            return n
        }
    }
}

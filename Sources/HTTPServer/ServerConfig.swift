import Foundation
import HTTPCore

/// PEM files for TLS: the certificate chain (leaf first) and its private key.
public struct TLSFiles: Sendable, Equatable {
    public var certificateChainPath: String
    public var privateKeyPath: String
    public init(certificateChainPath: String, privateKeyPath: String) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
    }
}

/// Where access-log lines go.
public enum AccessLogDestination: Sendable {
    case none
    case standardOutput
    case standardError
    case custom(@Sendable (String) -> Void)
}

/// Everything the server needs to know; every field has a usable default.
public struct HTTPServerConfig: Sendable {
    /// IPv4 or IPv6 literal (`::` listens on both families); `localhost` means 127.0.0.1.
    public var host: String = "127.0.0.1"
    /// 0 picks a free port (read it back from `HTTPServer.port`).
    public var port: UInt16 = 8080
    public var backlog: Int32 = 1024
    /// Connections beyond this are accepted and closed at once.
    public var maxConnections: Int = 4096
    public var limits = HTTPLimits()
    public var timeouts = HTTPTimeouts()
    /// TLS with ALPN (`h2`, `http/1.1`) when set; cleartext HTTP/1.1 and h2c otherwise.
    public var tls: TLSFiles?
    /// Re-read `tls` files on SIGHUP (new connections use the new certificate).
    public var reloadCertificatesOnSIGHUP = true
    /// Unsent bytes per connection above which the server stops reading from it and stops pulling HTTP/2 frames.
    public var writeBufferHighWater: Int = 1 << 20
    /// After the last response on a closing connection, unread client bytes are drained this long before the
    /// socket is closed, so the client receives the response instead of a reset.
    public var lingerTime: Duration = .seconds(2)
    public var accessLog: AccessLogDestination = .standardError
    /// Where connection-level events go: write stalls, HTTP/2 protocol errors and abuse limits (also counted in
    /// `HTTPServer.counters`).
    public var eventLog: AccessLogDestination = .standardError

    public init() {}
}

/// Why the server could not start or reload.
public enum HTTPServerError: Error, CustomStringConvertible, Equatable {
    case invalidAddress(String)
    case socket(call: String, errno: Int32)
    case tls(String)
    case alreadyStarted

    public var description: String {
        switch self {
        case .invalidAddress(let host): "host '\(host)' is not an IPv4 or IPv6 address"
        case .socket(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        case .tls(let why): "TLS: \(why)"
        case .alreadyStarted: "server already started"
        }
    }
}

import Foundation

/// `x-request-id` handling: a well-formed id from the client is kept (so a request can be traced across services),
/// anything else is replaced by a fresh random one.
public enum RequestID {
    /// Longest client-supplied id that is passed through.
    public static let maxLength = 128

    public static func resolve(_ headers: HTTPHeaders, generate: () -> String = RequestID.random) -> String {
        if let given = headers["x-request-id"], isAcceptable(given) { return given }
        return generate()
    }

    /// Visible ASCII only, bounded length: the id is echoed into a header and a log line.
    public static func isAcceptable(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= maxLength && id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// 16 random bytes from the system generator as 32 lowercase hex digits.
    public static func random() -> String {
        var rng = SystemRandomNumberGenerator()
        return hex(rng.next(), rng.next())
    }

    static func hex(_ a: UInt64, _ b: UInt64) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 32) { buffer in
            for i in 0..<16 {
                buffer[i] = digits[Int((a >> UInt64(60 - 4 * i)) & 0xF)]
                buffer[16 + i] = digits[Int((b >> UInt64(60 - 4 * i)) & 0xF)]
            }
            return 32
        }
    }
}

/// Per-connection source of request ids: seeded once from the system generator, then a fast non-cryptographic
/// generator (wyrand), so an id costs no system call. Ids only need to be unique, not secret.
public struct RequestIDGenerator: Sendable {
    private var state: UInt64

    public init(seed: UInt64? = nil) {
        var system = SystemRandomNumberGenerator()
        state = seed ?? system.next()
    }

    private mutating func next64() -> UInt64 {
        state &+= 0xA076_1D64_78BD_642F
        let product = state.multipliedFullWidth(by: state ^ 0xE703_7ED1_A0B4_28DB)
        return product.high ^ product.low
    }

    public mutating func next() -> String { RequestID.hex(next64(), next64()) }
}

/// One access-log line per finished request.
public struct AccessLogEntry: Sendable, Equatable {
    public var time: Date
    public var remoteAddress: String
    public var method: String
    public var target: String
    public var version: HTTPVersion
    public var status: Int
    public var responseBytes: Int
    public var durationSeconds: Double
    public var requestID: String

    public init(time: Date, remoteAddress: String, method: String, target: String, version: HTTPVersion,
                status: Int, responseBytes: Int, durationSeconds: Double, requestID: String) {
        self.time = time
        self.remoteAddress = remoteAddress
        self.method = method
        self.target = target
        self.version = version
        self.status = status
        self.responseBytes = responseBytes
        self.durationSeconds = durationSeconds
        self.requestID = requestID
    }

    /// `2026-01-02T03:04:05.678Z 127.0.0.1:5000 "GET /x HTTP/2" 200 17 1.234ms id=abc` — space separated, the request in
    /// quotes with control characters and quotes escaped so a hostile path cannot forge extra lines.
    public var line: String {
        let ms = (durationSeconds * 1_000_000).rounded() / 1000
        let request = "\(method) \(target) \(version.rawValue)"
        return "\(Self.timestamp(time)) \(remoteAddress) \"\(Self.escape(request))\" \(status) \(responseBytes) "
            + "\(String(format: "%.3f", ms))ms id=\(requestID)"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += String(format: "\\x%02x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// RFC 3339 UTC with milliseconds, built by hand (DateFormatter is slow and not thread-safe to share).
    static func timestamp(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        let seconds = Int(t.rounded(.down))
        let millis = Int(((t - Double(seconds)) * 1000).rounded(.down))
        let c = civil(seconds)
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):"
            + "\(pad(c.second, 2)).\(pad(millis, 3))Z"
    }
}

/// The `date` header (IMF-fixdate), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
public enum HTTPDate {
    private static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    public static func string(secondsSince1970 seconds: Int) -> String {
        let c = civil(seconds)
        let weekday = days[((seconds / 86_400) % 7 + 7) % 7]
        return "\(weekday), \(pad(c.day, 2)) \(months[c.month - 1]) \(pad(c.year, 4)) "
            + "\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2)) GMT"
    }
}

/// Caches the `date` header text for the current second; shared by all connections.
public final class HTTPDateCache: @unchecked Sendable {
    private let lock = NSLock()
    private var second = Int.min
    private var text = ""
    private let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date = { Date() }) { self.now = now }

    public func current() -> String {
        let s = Int(now().timeIntervalSince1970)
        lock.lock()
        defer { lock.unlock() }
        if s != second {
            second = s
            text = HTTPDate.string(secondsSince1970: s)
        }
        return text
    }
}

/// Zero-padded decimal.
func pad(_ value: Int, _ width: Int) -> String {
    let s = String(value)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

/// Gregorian calendar fields of a Unix time (days-from-civil inverse, valid for the proleptic calendar).
func civil(_ unixSeconds: Int) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
    let days = Int((Double(unixSeconds) / 86_400).rounded(.down))
    let secs = unixSeconds - days * 86_400
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let day = doy - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    return (year, month, day, secs / 3600, (secs % 3600) / 60, secs % 60)
}

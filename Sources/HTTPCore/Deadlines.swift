/// Per-connection timeouts.
public struct HTTPTimeouts: Sendable, Equatable {
    /// A keep-alive connection with nothing in progress is closed after this long.
    public var idle: Duration = .seconds(60)
    /// From the first byte of a request (or of the TLS handshake / HTTP/2 preface) until it is complete. Fixed at the
    /// first byte and not extended by later bytes, so a client trickling a header (slow loris) is cut off.
    public var requestRead: Duration = .seconds(10)
    /// Pending output that makes no progress for this long (a client that never reads) ends the connection.
    public var writeStall: Duration = .seconds(30)

    public init(idle: Duration = .seconds(60), requestRead: Duration = .seconds(10), writeStall: Duration = .seconds(30)) {
        self.idle = idle
        self.requestRead = requestRead
        self.writeStall = writeStall
    }
}

/// Which timeout expired.
public enum DeadlineReason: Equatable, Sendable {
    case idle
    case requestRead
    case writeStall
}

/// Computes a connection's next deadline from its phase and output progress. Time is passed in (nanoseconds on any
/// monotonic clock), so the policy is tested without sockets or sleeping.
public struct DeadlineTracker: Sendable {
    public let timeouts: HTTPTimeouts
    public private(set) var phase: ConnectionPhase = .idle
    private var phaseStart: UInt64
    /// Set while output is waiting for the socket: when it last made progress.
    private var stalledSince: UInt64?
    private var lastBodyBytesSent: UInt64 = 0

    public init(timeouts: HTTPTimeouts, now: UInt64) {
        self.timeouts = timeouts
        self.phaseStart = now
    }

    /// Records the engine's phase; the clock for a phase starts when it is entered, not when it is re-reported
    /// (frames such as PING that leave an HTTP/2 connection idle do not keep it open).
    public mutating func update(phase newPhase: ConnectionPhase, now: UInt64) {
        if newPhase != phase {
            phase = newPhase
            phaseStart = now
        }
    }

    /// Records output state after a write attempt: `pending` bytes remain, `progressed` if any were written.
    public mutating func output(pending: Bool, progressed: Bool, now: UInt64) {
        if !pending {
            stalledSince = nil
        } else if progressed || stalledSince == nil {
            stalledSince = now
        }
    }

    /// Output state after a write attempt, including output held back by HTTP/2 flow control: `socketPending` bytes
    /// wait for the socket (`socketProgressed` if some were written); `flowBlocked` when response data waits behind
    /// a window the peer keeps closed, `bodyBytesSent` the engine's running count of response body bytes. A blocked
    /// connection only makes progress when body bytes move: the control frames a slow reader can still provoke
    /// (PING ACKs) do not keep it open.
    public mutating func output(socketPending: Bool, socketProgressed: Bool, flowBlocked: Bool, bodyBytesSent: UInt64,
                                now: UInt64) {
        let bodyProgressed = bodyBytesSent != lastBodyBytesSent
        lastBodyBytesSent = bodyBytesSent
        if socketPending {
            output(pending: true, progressed: socketProgressed, now: now)
        } else {
            output(pending: flowBlocked, progressed: bodyProgressed, now: now)
        }
    }

    public var next: (at: UInt64, reason: DeadlineReason)? {
        var best: (at: UInt64, reason: DeadlineReason)?
        func consider(_ at: UInt64, _ reason: DeadlineReason) {
            if best == nil || at < best!.at { best = (at, reason) }
        }
        switch phase {
        case .idle: consider(phaseStart &+ Self.nanos(timeouts.idle), .idle)
        case .readingRequest: consider(phaseStart &+ Self.nanos(timeouts.requestRead), .requestRead)
        case .handling, .closing: break
        }
        if let stalledSince { consider(stalledSince &+ Self.nanos(timeouts.writeStall), .writeStall) }
        return best
    }

    /// The reason whose deadline has passed at `now`, if any.
    public func expired(now: UInt64) -> DeadlineReason? {
        guard let next, now >= next.at else { return nil }
        return next.reason
    }

    public static func nanos(_ d: Duration) -> UInt64 {
        let (s, atto) = d.components
        // Saturating: a configured duration of centuries means "never", not a trap.
        let (whole, overflow) = UInt64(max(s, 0)).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        let (total, carry) = whole.addingReportingOverflow(UInt64(max(atto, 0) / 1_000_000_000))
        return carry ? .max : total
    }
}

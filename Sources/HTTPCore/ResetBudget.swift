#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Token bucket for stream resets: `burst` at once, refilled at `perSecond`. Integer nanoseconds, no overflow: the
/// refill is computed from elapsed time capped at what fills the bucket.
struct ResetBudget {
    let burst: Int
    let period: UInt64
    private(set) var tokens: Int
    private var last: UInt64

    init(burst: Int, perSecond: Int, now: UInt64) {
        self.burst = max(burst, 1)
        period = max(1_000_000_000 / UInt64(max(perSecond, 1)), 1)  // never 0: `spend` divides by it
        tokens = self.burst
        last = now
    }

    /// Takes one token; false when none is left.
    mutating func spend(now: UInt64) -> Bool {
        if now > last {
            let gained = (now - last) / period
            if gained >= UInt64(burst - tokens) {
                tokens = burst
                last = now
            } else {
                tokens += Int(gained)
                last += gained * period
            }
        }
        guard tokens > 0 else { return false }
        tokens -= 1
        return true
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
public func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(max(ts.tv_sec, 0)) &* 1_000_000_000 &+ UInt64(max(ts.tv_nsec, 0))
}

import Foundation

/// A seeded, reproducible generator (xoshiro256**, seeded through SplitMix64): the same seed gives the
/// same stream on every machine, which makes initialisation, shuffling and dropout reproducible.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// The generator's whole state, for checkpoints: `init(state:)` continues the stream exactly.
    public var state: [UInt64] { [s.0, s.1, s.2, s.3] }

    public init?(state: [UInt64]) {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }   // all-zero is xoshiro's fixed point
        s = (state[0], state[1], state[2], state[3])
    }

    public mutating func next() -> UInt64 {
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1) with 24 random bits (every Float32 step in that range).
    public mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    public mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * uniform() }

    /// Standard normal by Box–Muller (one draw per call; simple and reproducible).
    public mutating func normal(mean: Float = 0, std: Float = 1) -> Float {
        let u1 = Double(next() >> 11) * 0x1p-53 + 0x1p-54  // (0, 1): log stays finite
        let u2 = Double(next() >> 11) * 0x1p-53
        return mean + std * Float((-2 * Foundation.log(u1)).squareRoot() * cos(2 * .pi * u2))
    }

    /// Normal(mean, std) redrawn until it lies in [low, high] (torch's trunc_normal_ bounds are absolute).
    public mutating func truncatedNormal(mean: Float = 0, std: Float = 1, low: Float = -2, high: Float = 2) -> Float {
        precondition(low < high, "empty truncation interval")
        while true {
            let v = normal(mean: mean, std: std)
            if v >= low && v <= high { return v }
        }
    }

    /// A uniformly random integer in 0..<bound.
    public mutating func index(_ bound: Int) -> Int { Int(next(upperBound: UInt64(bound))) }

    /// A random permutation of 0..<n (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, index(i + 1)) } }
        return p
    }
}

extension Tensor {
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, using rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, scalars: (0..<Shape.count(shape)).map { _ in rng.uniform(low, high) })
    }

    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, using rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, scalars: (0..<Shape.count(shape)).map { _ in rng.normal(mean: mean, std: std) })
    }

    public static func truncatedNormal(_ shape: [Int], std: Float, using rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, scalars: (0..<Shape.count(shape)).map { _ in rng.truncatedNormal(std: std, low: -2 * std, high: 2 * std) })
    }
}

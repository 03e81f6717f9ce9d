import Foundation
import TensorEngine

// Shape legend: n embeddings of width D; L levels of K codes each.

/// RQ-DINO's residual quantizer (paper 3.2, eq. 4–5): applied to the student's embedding before the DINO head, with
/// straight-through gradients, a commitment loss, and codebooks that learn by exponential moving averages (no
/// gradient reaches them). The teacher is never quantized.
public final class EMAResidualQuantizer {
    public struct Options: Codable, Sendable, Equatable {
        public var levels: Int
        public var codebookSize: Int
        public var decay: Float
        /// A code whose moving usage falls below this share of the uniform usage is re-seeded from the batch.
        public var deadCodeThreshold: Float
        public init(levels: Int = 3, codebookSize: Int = 256, decay: Float = 0.95, deadCodeThreshold: Float = 0.1) {
            self.levels = levels; self.codebookSize = codebookSize; self.decay = decay; self.deadCodeThreshold = deadCodeThreshold
        }
    }

    public let options: Options
    public let dimension: Int
    /// Per level [K, D]: constants updated in place by `update`.
    public private(set) var codebooks: [Tensor]
    /// Moving code usage (per level K) and moving sums of the residuals assigned to each code (per level K·D).
    public private(set) var usage: [[Float]]
    public private(set) var sums: [[Float]]
    public private(set) var isInitialized = false

    public init(options: Options, dimension: Int) {
        self.options = options
        self.dimension = dimension
        codebooks = (0..<options.levels).map { _ in Tensor.zeros([options.codebookSize, dimension]) }
        usage = Array(repeating: [Float](repeating: 0, count: options.codebookSize), count: options.levels)
        sums = Array(repeating: [Float](repeating: 0, count: options.codebookSize * dimension), count: options.levels)
    }

    /// What one forward pass produced: the straight-through quantized embedding, the commitment loss, and per row the
    /// codes and (per level) the residual each code was chosen for, which `update` averages into the codebooks.
    public struct Output {
        public let quantized: Tensor
        public let commitment: Tensor
        public let codes: [Int32]            // n × L
        public let residuals: [[Float]]      // per level n × D
    }

    /// ẑ = Σ_l e_l(c_l) with c_l the nearest code to the residual z − Σ_{j<l} e_j; returns z + sg(ẑ − z) and
    /// Σ_l mean((r_l − sg(e_l))²), the commitment term whose gradient pulls z towards its codes.
    public func callAsFunction(_ z: Tensor) -> Output {
        precondition(z.rank == 2 && z.shape[1] == dimension, "quantizer input \(z.shape), width \(dimension)")
        let n = z.shape[0]
        var residual = z, total = [Float](repeating: 0, count: n * dimension)
        var commitment: Tensor?
        var codes = [Int32](repeating: 0, count: n * options.levels), residuals: [[Float]] = []
        for level in 0..<options.levels {
            let values = residual.detached()
            residuals.append(values.scalars)
            let chosen = nearest(values, level: level)
            var picked = [Float](repeating: 0, count: n * dimension)
            let book = codebooks[level].data
            for (row, code) in chosen.enumerated() {
                codes[row * options.levels + level] = code
                for j in 0..<dimension { picked[row * dimension + j] = book[Int(code) * dimension + j]; total[row * dimension + j] += picked[row * dimension + j] }
            }
            let e = Tensor(shape: [n, dimension], scalars: picked)
            let term = (residual - e).square().mean()
            commitment = commitment.map { $0 + term } ?? term
            residual = residual - e
        }
        let zValues = z.scalars
        let shift = Tensor(shape: z.shape, scalars: (0..<total.count).map { total[$0] - zValues[$0] })
        return Output(quantized: z + shift, commitment: commitment ?? Tensor.scalar(0), codes: codes, residuals: residuals)
    }

    /// Codes of rows (no graph), n × L.
    public func encode(_ z: Tensor) -> [Int32] { withoutGrad { self(z.detached()).codes } }

    /// The nearest code of every row at one level (ties: the lowest index), by one sgemm of squared distances.
    func nearest(_ x: Tensor, level: Int) -> [Int32] {
        let distances = withoutGrad { squaredDistances(x, codebooks[level]) }
        let k = options.codebookSize, p = distances.data
        return (0..<x.shape[0]).map { row in
            var best = 0
            for j in 1..<k where p[row * k + j] < p[row * k + best] { best = j }
            return Int32(best)
        }
    }

    /// The naive nearest-code search (explicit differences), the reference `nearest` is tested against.
    public func nearestNaive(_ x: [Float], level: Int) -> [Int32] {
        let n = x.count / dimension, book = codebooks[level].scalars
        return (0..<n).map { row in
            var best = 0, bestDistance = Float.infinity
            for code in 0..<options.codebookSize {
                var d: Float = 0
                for j in 0..<dimension { let diff = x[row * dimension + j] - book[code * dimension + j]; d += diff * diff }
                if d < bestDistance { bestDistance = d; best = code }
            }
            return Int32(best)
        }
    }

    /// First codebooks from a batch of embeddings: level by level, distinct random residual rows (with repeats only
    /// when the batch has fewer rows than codes), so every code starts in the data.
    public func initialize(from z: Tensor, using rng: inout SeededGenerator) {
        let n = z.shape[0], k = options.codebookSize
        var residual = z.scalars
        for level in 0..<options.levels {
            let order = rng.permutation(n)
            let book = codebooks[level].data
            for code in 0..<k {
                let row = order[code % n]
                for j in 0..<dimension {
                    // repeats get a small jitter so they can separate
                    let jitter: Float = code >= n ? rng.normal(std: 1e-3) : 0
                    book[code * dimension + j] = residual[row * dimension + j] + jitter
                }
            }
            let chosen = nearest(Tensor(shape: [n, dimension], scalars: residual), level: level)
            for (row, code) in chosen.enumerated() { for j in 0..<dimension { residual[row * dimension + j] -= book[Int(code) * dimension + j] } }
            usage[level] = [Float](repeating: Float(n) / Float(k), count: k)
            for code in 0..<k { for j in 0..<dimension { sums[level][code * dimension + j] = book[code * dimension + j] * usage[level][code] } }
        }
        isInitialized = true
    }

    /// The EMA step (VQ-VAE v2): usage ← γ·usage + (1−γ)·count, sums ← γ·sums + (1−γ)·Σ residuals, code = sums/usage;
    /// a code whose usage fell below the dead-code share is re-seeded at a random residual of this batch.
    public func update(codes: [Int32], residuals: [[Float]], using rng: inout SeededGenerator) {
        let levels = options.levels, k = options.codebookSize, d = dimension
        let n = codes.count / levels, gamma = options.decay
        for level in 0..<levels {
            var counts = [Float](repeating: 0, count: k), batchSums = [Float](repeating: 0, count: k * d)
            let r = residuals[level]
            for row in 0..<n {
                let code = Int(codes[row * levels + level])
                counts[code] += 1
                for j in 0..<d { batchSums[code * d + j] += r[row * d + j] }
            }
            let book = codebooks[level].data, deadFloor = options.deadCodeThreshold * Float(n) / Float(k)
            for code in 0..<k {
                usage[level][code] = gamma * usage[level][code] + (1 - gamma) * counts[code]
                for j in 0..<d { sums[level][code * d + j] = gamma * sums[level][code * d + j] + (1 - gamma) * batchSums[code * d + j] }
                if usage[level][code] < deadFloor && n > 0 {
                    let row = rng.index(n)
                    usage[level][code] = Float(n) / Float(k)
                    for j in 0..<d { sums[level][code * d + j] = r[row * d + j] * usage[level][code] }
                }
                for j in 0..<d { book[code * d + j] = sums[level][code * d + j] / Swift.max(usage[level][code], 1e-12) }
            }
        }
    }

    /// Codebooks and EMA state, for checkpoints and for the encoder file (`quantizer.codebook.<l>` etc.).
    public func state() -> [(String, [Int], [Float])] {
        var out: [(String, [Int], [Float])] = []
        for level in 0..<options.levels {
            out.append(("quantizer.codebook.\(level)", [options.codebookSize, dimension], codebooks[level].scalars))
            out.append(("quantizer.usage.\(level)", [options.codebookSize], usage[level]))
            out.append(("quantizer.sums.\(level)", [options.codebookSize, dimension], sums[level]))
        }
        return out
    }

    /// Restores `state()`; `lookup` returns a tensor's values by name (nil when absent).
    public func restore(_ lookup: (String) throws -> [Float]?) throws {
        for level in 0..<options.levels {
            guard let book = try lookup("quantizer.codebook.\(level)"), book.count == options.codebookSize * dimension else {
                throw QuantizerStateError("quantizer.codebook.\(level) missing or of the wrong size (\(options.codebookSize)×\(dimension) expected)")
            }
            codebooks[level].data.update(from: book, count: book.count)
            usage[level] = try lookup("quantizer.usage.\(level)") ?? [Float](repeating: 1, count: options.codebookSize)
            sums[level] = try lookup("quantizer.sums.\(level)") ?? book
        }
        isInitialized = true
    }
}

public struct QuantizerStateError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

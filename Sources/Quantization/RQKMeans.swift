import ItemCodes
import Foundation
import TensorEngine

/// Options of RQ-k-means, MSCGRec's quantizer: residual quantization trained directly in the embedding space
/// (paper section 4.1), with no encoder or decoder around it.
public struct RQKMeansOptions: Sendable, Equatable {
    public var levels: Int
    public var codebookSize: Int
    public var maxIterations: Int
    public var tolerance: Double
    public var seed: UInt64
    /// Rows k-means trains on at each level (a seeded random subset when there are more); codes are then
    /// assigned to every row. nil: 256 per code, as faiss does, which changes nothing up to 65,536 rows at K=256.
    public var maxTrainingRows: Int?
    /// Optional refinement of all levels jointly after the level-wise k-means; nil skips it.
    public var ema: EMAOptions?

    public init(levels: Int = 3, codebookSize: Int = 256, maxIterations: Int = 20, tolerance: Double = 1e-4,
                seed: UInt64 = 0, maxTrainingRows: Int? = nil, ema: EMAOptions? = nil) {
        self.levels = levels
        self.codebookSize = codebookSize
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.seed = seed
        self.maxTrainingRows = maxTrainingRows
        self.ema = ema
    }

    public var resolvedMaxTrainingRows: Int { maxTrainingRows ?? 256 * codebookSize }

    func validate() throws {
        guard levels >= 1 else { throw CodesError.invalidOption(name: "levels", reason: "must be at least 1, got \(levels)") }
        guard codebookSize >= 1 else { throw CodesError.invalidOption(name: "codebook", reason: "must be at least 1, got \(codebookSize)") }
        guard maxIterations >= 1 else { throw CodesError.invalidOption(name: "iterations", reason: "must be at least 1") }
        guard resolvedMaxTrainingRows >= 1 else { throw CodesError.invalidOption(name: "max-training-rows", reason: "must be at least 1") }
        try ema?.validate()
    }
}

/// EMA codebook refinement (VQ-VAE style, over all levels jointly): mini-batches run through every level,
/// each code moves to the exponential moving average of the residuals assigned to it, and codes whose moving
/// usage falls below `deadCodeThreshold` × the uniform share are re-seeded on the worst-quantized residuals.
public struct EMAOptions: Sendable, Equatable {
    public var epochs: Int
    public var decay: Double
    public var batchSize: Int
    public var deadCodeThreshold: Double
    /// Laplace smoothing of the moving counts, so an unused code never divides by zero.
    public var epsilon: Double

    public init(epochs: Int = 10, decay: Double = 0.99, batchSize: Int = 1024, deadCodeThreshold: Double = 0.1, epsilon: Double = 1e-5) {
        self.epochs = epochs
        self.decay = decay
        self.batchSize = batchSize
        self.deadCodeThreshold = deadCodeThreshold
        self.epsilon = epsilon
    }

    func validate() throws {
        guard epochs >= 0 else { throw CodesError.invalidOption(name: "ema-epochs", reason: "must not be negative") }
        guard decay > 0 && decay < 1 else { throw CodesError.invalidOption(name: "ema-decay", reason: "must lie in (0, 1), got \(decay)") }
        guard batchSize >= 1 else { throw CodesError.invalidOption(name: "ema-batch", reason: "must be at least 1") }
        guard deadCodeThreshold >= 0 else { throw CodesError.invalidOption(name: "dead-code-threshold", reason: "must not be negative") }
    }
}

/// What training did, for the progress log and the quantization report.
public struct RQKMeansReport: Sendable, Equatable {
    public var trainingRows: Int
    public var iterationsPerLevel: [Int]
    public var reseededPerLevel: [Int]
    public var emaDeadCodesReseeded: Int
}

public enum RQKMeans {
    /// Trains the codebooks on `x` (which is not modified). The same seed gives the same codebooks bit for bit.
    public static func train(_ x: FloatMatrix, options: RQKMeansOptions, progress: (String) -> Void = { _ in })
        throws -> (codebooks: ResidualCodebooks, report: RQKMeansReport)
    {
        try options.validate()
        guard x.rows > 0 else { throw CodesError.mismatch("no rows to quantize") }
        var rng = SeededGenerator(seed: options.seed)
        let limit = options.resolvedMaxTrainingRows
        let training: FloatMatrix
        if x.rows > limit {
            training = x.gathering(rows: Array(rng.permutation(x.rows).prefix(limit)).sorted())
            progress("training on \(limit) of \(x.rows) rows (seeded sample)")
        } else {
            training = x.copy()
        }
        // `residual` starts as the training rows and loses one level's code vectors after each level.
        let residual = training.copy()
        var codebooks: [FloatMatrix] = []
        var report = RQKMeansReport(trainingRows: training.rows, iterationsPerLevel: [], reseededPerLevel: [], emaDeadCodesReseeded: 0)
        let kmeans = KMeansOptions(clusters: options.codebookSize, maxIterations: options.maxIterations, tolerance: options.tolerance)
        for level in 0..<options.levels {
            let clock = ContinuousClock(), started = clock.now
            let seeds = KMeans.plusPlusSeeds(residual, clusters: kmeans.clusters, rng: &rng)
            let seeded = clock.now
            let result = KMeans.lloyd(residual, initial: seeds, options: kmeans)
            let timing = "k-means++ \(seconds(seeded - started)), Lloyd \(seconds(clock.now - seeded))"
            var codes = [Int32](repeating: 0, count: residual.rows)
            var distances = [Float](repeating: 0, count: residual.rows)
            NearestCode.assign(rowCount: residual.rows, columns: residual.columns, source: NearestCode.rows(of: residual),
                               codebook: result.centroids, codes: &codes, distances: &distances)
            subtract(result.centroids, codes: codes, from: residual)
            codebooks.append(result.centroids)
            report.iterationsPerLevel.append(result.iterations)
            report.reseededPerLevel.append(result.reseeded)
            let used = Set(codes).count
            progress("level \(level + 1): \(result.iterations) Lloyd iterations, \(used)/\(options.codebookSize) codes used, "
                + "\(result.reseeded) empty clusters re-seeded (\(timing))")
        }
        if let ema = options.ema, ema.epochs > 0 {
            report.emaDeadCodesReseeded = EMARefinement.run(training, codebooks: codebooks, options: ema, rng: &rng, progress: progress)
        }
        return (ResidualCodebooks(levels: codebooks), report)
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18)
    }

    /// rows[r] −= codebook[codes[r]]
    static func subtract(_ codebook: FloatMatrix, codes: [Int32], from rows: FloatMatrix) {
        let d = rows.columns
        codes.withUnsafeBufferPointer { c in
            let codes = c.baseAddress!
            Parallelism.forEachFixedChunk(rows.rows, grain: 1024) { range in
                for r in range {
                    let target = rows.row(r), vector = codebook.row(Int(codes[r]))
                    for j in 0..<d { target[j] -= vector[j] }
                }
            }
        }
    }
}

enum EMARefinement {
    /// Refines `codebooks` in place on the rows of `x`; returns how many dead codes were re-seeded.
    static func run(_ x: FloatMatrix, codebooks: [FloatMatrix], options: EMAOptions, rng: inout SeededGenerator,
                    progress: (String) -> Void) -> Int {
        let n = x.rows, d = x.columns, k = codebooks[0].rows
        let batchSize = min(options.batchSize, n)
        let uniform = Double(batchSize) / Double(k)
        let gamma = options.decay
        // Moving counts start at the uniform share, moving sums at code × count, so the first steps change little.
        var counts = codebooks.map { _ in [Double](repeating: uniform, count: k) }
        var sums = codebooks.map { book in (0..<k * d).map { Double(book.pointer[$0]) * uniform } }
        var reseeded = 0
        for epoch in 0..<options.epochs {
            let order = rng.permutation(n)
            var start = 0
            var epochError = 0.0
            while start < n {
                let rows = Array(order[start..<min(n, start + batchSize)])
                start += batchSize
                let residual = x.gathering(rows: rows)
                let b = residual.rows
                for (level, book) in codebooks.enumerated() {
                    var codes = [Int32](repeating: 0, count: b)
                    var distances = [Float](repeating: 0, count: b)
                    NearestCode.assign(rowCount: b, columns: d, source: NearestCode.rows(of: residual), codebook: book,
                                       codes: &codes, distances: &distances)
                    var batchCounts = [Double](repeating: 0, count: k)
                    var batchSums = [Double](repeating: 0, count: k * d)
                    for r in 0..<b {
                        let c = Int(codes[r]), row = residual.row(r)
                        batchCounts[c] += 1
                        for j in 0..<d { batchSums[c * d + j] += Double(row[j]) }
                    }
                    for c in 0..<k { counts[level][c] = gamma * counts[level][c] + (1 - gamma) * batchCounts[c] }
                    for i in 0..<k * d { sums[level][i] = gamma * sums[level][i] + (1 - gamma) * batchSums[i] }
                    // Dead codes restart on this batch's worst-quantized residuals (taken before subtraction).
                    let dead = (0..<k).filter { counts[level][$0] < options.deadCodeThreshold * uniform }
                    let worst = (0..<b).sorted { distances[$0] != distances[$1] ? distances[$0] > distances[$1] : $0 < $1 }
                    var restarts: [(code: Int, vector: [Float])] = []
                    for (code, row) in zip(dead, worst) { restarts.append((code, residual.rowArray(row))) }
                    RQKMeans.subtract(book, codes: codes, from: residual)
                    if level == codebooks.count - 1 { epochError += distances.reduce(0.0) { $0 + Double($1) } }
                    let total = counts[level].reduce(0, +)
                    for c in 0..<k {
                        let smoothed = (counts[level][c] + options.epsilon) / (total + Double(k) * options.epsilon) * total
                        let target = book.row(c)
                        for j in 0..<d { target[j] = Float(sums[level][c * d + j] / smoothed) }
                    }
                    for restart in restarts {
                        counts[level][restart.code] = uniform
                        for j in 0..<d {
                            book.row(restart.code)[j] = restart.vector[j]
                            sums[level][restart.code * d + j] = Double(restart.vector[j]) * uniform
                        }
                    }
                    reseeded += restarts.count
                }
            }
            progress("EMA epoch \(epoch + 1)/\(options.epochs): mean squared residual \(epochError / Double(n)), \(reseeded) dead codes re-seeded so far")
        }
        return reseeded
    }
}

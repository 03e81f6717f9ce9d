import TensorEngine

/// k-means with k-means++ seeding and Lloyd iterations, the building block of RQ-k-means.
public struct KMeansOptions: Sendable, Equatable {
    public var clusters: Int
    public var maxIterations: Int
    /// Lloyd stops once the total squared error improves by less than this fraction in one iteration.
    public var tolerance: Double

    public init(clusters: Int = 256, maxIterations: Int = 20, tolerance: Double = 1e-4) {
        self.clusters = clusters
        self.maxIterations = maxIterations
        self.tolerance = tolerance
    }
}

public struct KMeansResult {
    public var centroids: FloatMatrix
    /// Cluster of every training row after the last assignment.
    public var assignments: [Int32]
    /// Total squared distance of the rows to their centroids at the last assignment.
    public var inertia: Double
    public var iterations: Int
    /// Empty clusters that were moved onto far-away rows.
    public var reseeded: Int
}

public enum KMeans {
    /// Seeds k-means++ style: the first centroid is a uniformly random row, every further one a row drawn with
    /// probability proportional to its squared distance to the nearest centroid so far. When every row already
    /// coincides with a centroid (fewer distinct rows than clusters) the rest are copies of random rows, which
    /// Lloyd then leaves empty.
    public static func plusPlusSeeds(_ x: FloatMatrix, clusters k: Int, rng: inout SeededGenerator) -> FloatMatrix {
        precondition(x.rows > 0 && k > 0, "k-means++ needs rows and clusters")
        let n = x.rows, d = x.columns
        let centroids = FloatMatrix(rows: k, columns: d)
        centroids.row(0).update(from: x.row(rng.index(n)), count: d)
        var nearest = [Float](repeating: 0, count: n)
        // Which centroid is nearest to each row: with it the triangle inequality skips most distance computations
        // (‖x − new‖ ≥ ‖new − c‖ − ‖x − c‖ ≥ ‖x − c‖ whenever ‖new − c‖² ≥ 4‖x − c‖²), leaving the result unchanged.
        var owner = [Int32](repeating: 0, count: n)
        var centerGap = [Float](repeating: 0, count: k)
        nearest.withUnsafeMutableBufferPointer { nearestBuffer in
            owner.withUnsafeMutableBufferPointer { ownerBuffer in
                let near = nearestBuffer.baseAddress!, own = ownerBuffer.baseAddress!
                Parallelism.forEachFixedChunk(n, grain: 2048) { rows in
                    for r in rows { near[r] = squaredDistance(x.row(r), centroids.row(0), d) }
                }
                for c in 1..<k {
                    let pick = drawProportional(to: near, count: n, rng: &rng)
                    let center = centroids.row(c)
                    center.update(from: x.row(pick), count: d)
                    for j in 0..<c { centerGap[j] = squaredDistance(center, centroids.row(j), d) }
                    centerGap.withUnsafeBufferPointer { gaps in
                        let gap = gaps.baseAddress!
                        Parallelism.forEachFixedChunk(n, grain: 2048) { rows in
                            for r in rows where gap[Int(own[r])] < 4 * near[r] {
                                let distance = squaredDistance(x.row(r), center, d)
                                if distance < near[r] { near[r] = distance; own[r] = Int32(c) }
                            }
                        }
                    }
                }
            }
        }
        return centroids
    }

    /// k-means++'s D² draw: row r with probability near[r] / Σ near (uniform when every distance is 0). Shared by the
    /// pruned seeding and its reference, which differ only in how `near` is kept up to date.
    static func drawProportional(to near: UnsafePointer<Float>, count n: Int, rng: inout SeededGenerator) -> Int {
        var total = 0.0
        for r in 0..<n { total += Double(near[r]) }
        guard total > 0 else { return rng.index(n) }
        let target = Double(rng.next() >> 11) * 0x1p-53 * total
        var running = 0.0, pick = n - 1
        for r in 0..<n where near[r] > 0 {
            running += Double(near[r])
            pick = r
            if running > target { break }
        }
        return pick
    }

    /// Reference seeding without the triangle-inequality pruning (plain loops): the same draws must give the
    /// same centroids, which the tests check.
    static func plusPlusSeedsReference(_ x: FloatMatrix, clusters k: Int, rng: inout SeededGenerator) -> FloatMatrix {
        let n = x.rows, d = x.columns
        let centroids = FloatMatrix(rows: k, columns: d)
        centroids.row(0).update(from: x.row(rng.index(n)), count: d)
        var near = (0..<n).map { squaredDistance(x.row($0), centroids.row(0), d) }
        for c in 1..<k {
            let pick = near.withUnsafeBufferPointer { drawProportional(to: $0.baseAddress!, count: n, rng: &rng) }
            centroids.row(c).update(from: x.row(pick), count: d)
            for r in 0..<n { near[r] = min(near[r], squaredDistance(x.row(r), centroids.row(c), d)) }
        }
        return centroids
    }

    /// Lloyd iterations from the given centroids. A cluster left empty takes over the row farthest from its own
    /// centroid (among rows whose cluster keeps other members), as in scikit-learn, so no code is wasted.
    public static func lloyd(_ x: FloatMatrix, initial: FloatMatrix, options: KMeansOptions) -> KMeansResult {
        let n = x.rows, d = x.columns, k = initial.rows
        let centroids = initial.copy()
        var assignments = [Int32](repeating: 0, count: n)
        var distances = [Float](repeating: 0, count: n)
        var previous = Double.infinity
        var inertia = 0.0
        var iterations = 0
        var reseeded = 0
        while iterations < options.maxIterations {
            iterations += 1
            assignments.withUnsafeMutableBufferPointer { codes in
                distances.withUnsafeMutableBufferPointer { dist in
                    NearestCode.assign(rowCount: n, columns: d, source: NearestCode.rows(of: x), codebook: centroids,
                                       codes: codes.baseAddress!, distances: dist.baseAddress!)
                }
            }
            inertia = distances.reduce(0.0) { $0 + Double($1) }
            var counts = [Int](repeating: 0, count: k)
            for c in assignments { counts[Int(c)] += 1 }
            let moved = reseedEmpty(x, counts: &counts, assignments: &assignments, distances: &distances)
            reseeded += moved
            updateCentroids(x, assignments: assignments, counts: counts, into: centroids)
            let improvement = (previous - inertia) / max(previous, .leastNormalMagnitude)
            if moved == 0 && previous.isFinite && improvement < options.tolerance { break }
            previous = inertia
        }
        return KMeansResult(centroids: centroids, assignments: assignments, inertia: inertia, iterations: iterations, reseeded: reseeded)
    }

    /// k-means++ seeding followed by Lloyd.
    public static func fit(_ x: FloatMatrix, options: KMeansOptions, rng: inout SeededGenerator) -> KMeansResult {
        lloyd(x, initial: plusPlusSeeds(x, clusters: options.clusters, rng: &rng), options: options)
    }

    /// Moves the farthest rows into empty clusters; returns how many clusters were filled.
    static func reseedEmpty(_ x: FloatMatrix, counts: inout [Int], assignments: inout [Int32], distances: inout [Float]) -> Int {
        let empty = counts.indices.filter { counts[$0] == 0 }
        guard !empty.isEmpty else { return 0 }
        let order = distances.indices.sorted { distances[$0] != distances[$1] ? distances[$0] > distances[$1] : $0 < $1 }
        var cursor = 0
        var filled = 0
        for cluster in empty {
            while cursor < order.count && (distances[order[cursor]] <= 0 || counts[Int(assignments[order[cursor]])] <= 1) {
                cursor += 1
            }
            guard cursor < order.count else { break }
            let row = order[cursor]
            counts[Int(assignments[row])] -= 1
            assignments[row] = Int32(cluster)
            counts[cluster] = 1
            distances[row] = 0
            filled += 1
            cursor += 1
        }
        return filled
    }

    /// Centroid = mean of its rows, summed in Float64 in row order. Work is split by columns, so the result is
    /// the same whatever the number of threads. Empty clusters keep their centroid.
    static func updateCentroids(_ x: FloatMatrix, assignments: [Int32], counts: [Int], into centroids: FloatMatrix) {
        let n = x.rows, d = x.columns, k = centroids.rows
        assignments.withUnsafeBufferPointer { codes in
            let a = codes.baseAddress!
            Parallelism.forEachFixedChunk(d, grain: 32) { columns in
                var sums = [Double](repeating: 0, count: k * columns.count)
                let width = columns.count, first = columns.lowerBound
                for r in 0..<n {
                    let row = x.row(r) + first, base = Int(a[r]) * width
                    for j in 0..<width { sums[base + j] += Double(row[j]) }
                }
                for c in 0..<k where counts[c] > 0 {
                    let target = centroids.row(c) + first, scale = 1 / Double(counts[c])
                    for j in 0..<width { target[j] = Float(sums[c * width + j] * scale) }
                }
            }
        }
    }
}

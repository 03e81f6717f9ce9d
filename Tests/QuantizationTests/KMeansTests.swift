@testable import Quantization
import TensorEngine
import XCTest

final class KMeansTests: XCTestCase {
    func testRecoversWellSeparatedClusters() {
        let x = clusteredMatrix(rows: 600, columns: 8, centers: 6, spread: 0.01, seed: 3)
        var rng = SeededGenerator(seed: 0)
        let result = KMeans.fit(x, options: KMeansOptions(clusters: 6, maxIterations: 50), rng: &rng)
        // Every cluster is one Gaussian blob: the error is the blobs' own spread (≈ 600 × 8 × 0.01²).
        XCTAssertLessThan(result.inertia, 600 * 8 * 0.0001 * 1.5)
        XCTAssertEqual(Set(result.assignments).count, 6)
    }

    func testEmptyClusterTakesTheFarthestRow() {
        // Two blobs; the second initial centroid is far from everything and ends empty after the first assignment.
        let x = FloatMatrix(rows: 5, columns: 1, scalars: [0, 0.1, 0.2, 10, 10.2])
        let initial = FloatMatrix(rows: 2, columns: 1, scalars: [5, 1000])
        let result = KMeans.lloyd(x, initial: initial, options: KMeansOptions(clusters: 2, maxIterations: 10))
        XCTAssertGreaterThanOrEqual(result.reseeded, 1)
        XCTAssertEqual(result.assignments[0], result.assignments[1])
        XCTAssertEqual(result.assignments[3], result.assignments[4])
        XCTAssertNotEqual(result.assignments[0], result.assignments[3])
        XCTAssertEqual(result.inertia, 2 * 0.01 + 0.02, accuracy: 1e-5)  // blobs {0, .1, .2} and {10, 10.2}
    }

    func testMoreClustersThanDistinctRowsLeavesTheRestUnused() {
        let x = FloatMatrix(rows: 4, columns: 2, scalars: [1, 1, 1, 1, 2, 2, 2, 2])
        var rng = SeededGenerator(seed: 5)
        let result = KMeans.fit(x, options: KMeansOptions(clusters: 3), rng: &rng)
        XCTAssertEqual(result.inertia, 0)
        XCTAssertEqual(Set(result.assignments).count, 2)
    }

    func testPlusPlusSeedsAreDistinctRowsWhileThereAreAny() {
        let x = randomMatrix(rows: 50, columns: 4, seed: 9)
        var rng = SeededGenerator(seed: 1)
        let seeds = KMeans.plusPlusSeeds(x, clusters: 10, rng: &rng)
        let rows = Set((0..<50).map { x.rowArray($0) })
        let picked = (0..<10).map { seeds.rowArray($0) }
        XCTAssertTrue(picked.allSatisfy(rows.contains))
        XCTAssertEqual(Set(picked).count, 10)
    }

    /// The fit is bit-identical on one worker and several: chunks depend only on the row count.
    func testFitIsTheSameOnAnyNumberOfWorkers() {
        let savedWorkers = Parallelism.workers
        defer { Parallelism.workers = savedWorkers }
        let x = clusteredMatrix(rows: 5000, columns: 40, centers: 30, spread: 0.3, seed: 12)
        func fit(workers: Int) -> KMeansResult {
            Parallelism.workers = workers
            var rng = SeededGenerator(seed: 4)
            return KMeans.fit(x, options: KMeansOptions(clusters: 32, maxIterations: 8), rng: &rng)
        }
        let one = fit(workers: 1), two = fit(workers: 2)
        XCTAssertEqual(one.centroids.scalars, two.centroids.scalars)
        XCTAssertEqual(one.assignments, two.assignments)
    }

    func testCentroidUpdateIsTheMeanOfTheAssignedRows() {
        let x = FloatMatrix(rows: 4, columns: 2, scalars: [1, 2, 3, 4, 5, 6, 100, 100])
        let centroids = FloatMatrix(rows: 3, columns: 2, scalars: [0, 0, 0, 0, -7, -7])
        KMeans.updateCentroids(x, assignments: [0, 0, 0, 1], counts: [3, 1, 0], into: centroids)
        XCTAssertEqual(centroids.scalars, [3, 4, 100, 100, -7, -7])
    }
}

final class KMeansSeedingReferenceTests: XCTestCase {
    func testPrunedSeedingPicksExactlyWhatThePlainLoopPicks() {
        for (seed, matrix) in [(UInt64(1), clusteredMatrix(rows: 3000, columns: 24, centers: 40, spread: 0.3, seed: 8)),
                               (UInt64(2), randomMatrix(rows: 500, columns: 33, seed: 4))] {
            var fast = SeededGenerator(seed: seed), plain = SeededGenerator(seed: seed)
            let pruned = KMeans.plusPlusSeeds(matrix, clusters: 64, rng: &fast)
            let reference = KMeans.plusPlusSeedsReference(matrix, clusters: 64, rng: &plain)
            XCTAssertEqual(pruned.scalars, reference.scalars)
            XCTAssertEqual(fast.next(), plain.next())  // the same number of draws
        }
    }
}

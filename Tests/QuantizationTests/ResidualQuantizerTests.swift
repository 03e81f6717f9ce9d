@testable import Quantization
import TensorEngine
import TestSupport
import XCTest

final class ResidualQuantizerTests: XCTestCase {
    private let options = RQKMeansOptions(levels: 3, codebookSize: 8, maxIterations: 15, seed: 7)

    func testDecodeOfEncodeIsTheSumOfTheAssignedCodeVectors() throws {
        let x = clusteredMatrix(rows: 300, columns: 12, centers: 20, spread: 0.3, seed: 1)
        let (codebooks, _) = try RQKMeans.train(x, options: options)
        let (codes, errors) = codebooks.encode(x)
        var total = 0.0
        for r in 0..<x.rows {
            let row = Array(codes[r * 3..<(r + 1) * 3])
            // The batched (sgemm) encoder agrees with the one-vector reference encoder.
            XCTAssertEqual(row, codebooks.encode(x.rowArray(r)), "row \(r)")
            let decoded = codebooks.decode(row)
            for j in 0..<12 {
                var sum: Float = 0
                for level in 0..<3 { sum += codebooks.levels[level].row(Int(row[level]))[j] }
                XCTAssertEqual(decoded[j], sum, accuracy: 1e-6)
            }
            total += naiveSquaredDistance(x.row(r), decoded, 12)
        }
        // The reported last-level error is ‖x − decode(encode(x))‖² summed over rows.
        XCTAssertEqual(errors[2], total, accuracy: 1e-3 * total)
        XCTAssertTrue(errors[0] > errors[1] && errors[1] > errors[2], "each level must reduce the error: \(errors)")
    }

    func testTheSameSeedReproducesCodebooksAndCodesBitForBit() throws {
        let x = clusteredMatrix(rows: 400, columns: 10, centers: 30, spread: 0.5, seed: 2)
        var withEMA = options
        withEMA.ema = EMAOptions(epochs: 2, batchSize: 64)
        for configuration in [options, withEMA] {
            let first = try RQKMeans.train(x, options: configuration).codebooks
            let second = try RQKMeans.train(x, options: configuration).codebooks
            for level in 0..<3 {
                XCTAssertEqual(first.levels[level].scalars.map(\.bitPattern), second.levels[level].scalars.map(\.bitPattern))
            }
            XCTAssertEqual(first.encode(x).codes, second.encode(x).codes)
        }
        var other = options
        other.seed = 8
        XCTAssertNotEqual(try RQKMeans.train(x, options: other).codebooks.levels[0].scalars, try RQKMeans.train(x, options: options).codebooks.levels[0].scalars)
    }

    func testTrainingOnASampleStillCodesEveryRow() throws {
        let x = clusteredMatrix(rows: 500, columns: 6, centers: 10, spread: 0.2, seed: 3)
        var sampled = options
        sampled.maxTrainingRows = 100
        let (codebooks, report) = try RQKMeans.train(x, options: sampled)
        XCTAssertEqual(report.trainingRows, 100)
        let (codes, _) = codebooks.encode(x)
        XCTAssertEqual(codes.count, 500 * 3)
        XCTAssertTrue(codes.allSatisfy { $0 >= 0 && $0 < 8 })
    }

    func testEMARefinementReseedsDeadCodesAndKeepsTheErrorDown() throws {
        // 16 codes for 4 tight blobs: k-means fills them all, but at level 1 most codes serve few rows, so the
        // EMA usage of some drops under the threshold and they restart on badly quantized residuals.
        let x = clusteredMatrix(rows: 800, columns: 8, centers: 4, spread: 0.3, seed: 4)
        let base = RQKMeansOptions(levels: 2, codebookSize: 16, seed: 1)
        var refined = base
        refined.ema = EMAOptions(epochs: 3, decay: 0.9, batchSize: 100, deadCodeThreshold: 0.9)
        let plain = try RQKMeans.train(x, options: base).codebooks.encode(x).squaredErrors[1]
        let (codebooks, report) = try RQKMeans.train(x, options: refined)
        XCTAssertGreaterThan(report.emaDeadCodesReseeded, 0)
        XCTAssertLessThan(codebooks.encode(x).squaredErrors[1], plain * 1.5)
    }

    func testOptionsAreValidated() {
        let x = randomMatrix(rows: 10, columns: 2, seed: 1)
        assertThrowsError(try RQKMeans.train(x, options: RQKMeansOptions(levels: 0)), containing: "levels")
        assertThrowsError(try RQKMeans.train(x, options: RQKMeansOptions(ema: EMAOptions(decay: 1))), containing: "ema-decay")
        assertThrowsError(try RQKMeans.train(FloatMatrix(rows: 0, columns: 2), options: RQKMeansOptions()), containing: "no rows")
    }
}

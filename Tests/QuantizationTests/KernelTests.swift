@testable import Quantization
import TensorEngine
import XCTest

final class KernelTests: XCTestCase {
    func testSIMDDistanceAndDotMatchNaiveLoopsAtOddLengths() {
        for n in [1, 7, 16, 17, 33, 768] {
            let a = randomMatrix(rows: 1, columns: n, seed: UInt64(n)), b = randomMatrix(rows: 1, columns: n, seed: UInt64(n) + 100)
            let naive = naiveSquaredDistance(a.pointer, b.pointer, n)
            XCTAssertEqual(Double(squaredDistance(a.pointer, b.pointer, n)), naive, accuracy: 1e-5 * max(1, naive), "n=\(n)")
            var naiveDot = 0.0
            for j in 0..<n { naiveDot += Double(a.pointer[j]) * Double(b.pointer[j]) }
            XCTAssertEqual(Double(dot(a.pointer, b.pointer, n)), naiveDot, accuracy: 1e-5 * max(1, abs(naiveDot)) + 1e-5, "n=\(n)")
        }
    }

    func testSgemmNearestCodeSearchMatchesNaiveAcrossBlockBoundaries() {
        // 4,100 rows cross the 4,096-row block; the data is clustered so no choice is a near-tie.
        let rows = clusteredMatrix(rows: NearestCode.blockRows + 4, columns: 19, centers: 11, spread: 0.2, seed: 1)
        let codebook = clusteredMatrix(rows: 11, columns: 19, centers: 11, spread: 0.2, seed: 1)
        var codes = [Int32](repeating: -1, count: rows.rows)
        var distances = [Float](repeating: -1, count: rows.rows)
        NearestCode.assign(rowCount: rows.rows, columns: 19, source: NearestCode.rows(of: rows), codebook: codebook,
                           codes: &codes, distances: &distances)
        let reference = NearestCode.naiveAssign(rows: rows, codebook: codebook)
        XCTAssertEqual(codes, reference.codes)
        for r in 0..<rows.rows { XCTAssertEqual(Double(distances[r]), reference.distances[r], accuracy: 1e-4 * max(1, reference.distances[r])) }
    }

    func testTiesGoToTheLowestCode() {
        let rows = FloatMatrix(rows: 1, columns: 2, scalars: [0, 0])
        let codebook = FloatMatrix(rows: 3, columns: 2, scalars: [5, 5, 1, 0, 0, 1])
        var codes: [Int32] = [9], distances: [Float] = [9]
        NearestCode.assign(rowCount: 1, columns: 2, source: NearestCode.rows(of: rows), codebook: codebook, codes: &codes, distances: &distances)
        XCTAssertEqual(codes, [1])
        XCTAssertEqual(distances, [1])
    }

    func testHalfPrecisionConversionIsExact() {
        XCTAssertEqual(NpyFile.halfToFloat(0x3C00), 1)
        XCTAssertEqual(NpyFile.halfToFloat(0xC000), -2)
        XCTAssertEqual(NpyFile.halfToFloat(0x3555), 0.333251953125)
        XCTAssertEqual(NpyFile.halfToFloat(0x7BFF), 65504)
        XCTAssertEqual(NpyFile.halfToFloat(0x0001), 0x1p-24)
        XCTAssertEqual(NpyFile.halfToFloat(0x8000).sign, .minus)
        XCTAssertEqual(NpyFile.halfToFloat(0x7C00), .infinity)
        XCTAssertTrue(NpyFile.halfToFloat(0x7E00).isNaN)
    }
}

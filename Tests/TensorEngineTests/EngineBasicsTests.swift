@testable import TensorEngine
import TestSupport
import XCTest

final class EngineBasicsTests: XCTestCase {
    /// The BLAS fast path against the naive triple loop, for every transpose form and odd sizes.
    func testSgemmMatchesNaiveReference() {
        var rng = SeededGenerator(seed: 3)
        for (m, n, k) in [(1, 1, 1), (7, 5, 3), (33, 17, 65), (64, 128, 96)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = Tensor.normal(ta ? [k, m] : [m, k], using: &rng), b = Tensor.normal(tb ? [n, k] : [k, n], using: &rng)
                let fast = matmul(a, b, transposeA: ta, transposeB: tb)
                let reference = Tensor.zeros([m, n])
                naiveMatmul(ta, tb, m: m, n: n, k: k, a.data, b.data, reference.data)
                assertClose(fast, reference, "sgemm \(m)x\(n)x\(k) \(ta) \(tb)", atol: 1e-4, rtol: 1e-4)
            }
        }
    }

    func testBatchedMatmulWithSharedRightHandSideEqualsPerBatchProducts() {
        var rng = SeededGenerator(seed: 4)
        let a = Tensor.normal([3, 4, 5], using: &rng), b = Tensor.normal([5, 6], using: &rng)
        let batched = matmul(a, b)
        for i in 0..<3 {
            let single = matmul(a.slice(axis: 0, start: i, end: i + 1).reshaped([4, 5]), b)
            assertClose(batched.slice(axis: 0, start: i, end: i + 1).reshaped([4, 6]), single, "batch \(i)")
        }
    }

    func testSeededGeneratorIsReproducibleAndWellSpread() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let xs = (0..<1000).map { _ in a.next() }
        XCTAssertEqual(xs, (0..<1000).map { _ in b.next() })
        XCTAssertNotEqual(xs, (0..<1000).map { _ in c.next() })
        var g = SeededGenerator(seed: 1)
        let normals = (0..<20000).map { _ in g.normal() }
        let mean = normals.reduce(0, +) / Float(normals.count)
        let variance = normals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(normals.count)
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
        let uniforms = (0..<20000).map { _ in g.uniform() }
        XCTAssertTrue(uniforms.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(uniforms.reduce(0, +) / 20000, 0.5, accuracy: 0.01)
        let truncated = (0..<5000).map { _ in g.truncatedNormal(std: 1, low: -0.5, high: 0.5) }
        XCTAssertTrue(truncated.allSatisfy { abs($0) <= 0.5 })
        let permutation = g.permutation(100)
        XCTAssertEqual(permutation.sorted(), Array(0..<100))
        XCTAssertNotEqual(permutation, Array(0..<100))
    }

    func testDropoutKeepsExpectationAndIsSeeded() {
        let x = Tensor.filled([10000], value: 1)
        var r1 = SeededGenerator(seed: 5), r2 = SeededGenerator(seed: 5)
        let y1 = x.dropout(0.25, training: true, using: &r1), y2 = x.dropout(0.25, training: true, using: &r2)
        XCTAssertEqual(y1.scalars, y2.scalars)
        let zeros = y1.scalars.filter { $0 == 0 }.count
        XCTAssertEqual(Float(zeros) / 10000, 0.25, accuracy: 0.02)
        XCTAssertTrue(y1.scalars.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-6 })
        XCTAssertEqual(x.dropout(0.25, training: false, using: &r1).scalars, x.scalars)
        // The unrolled mask equals a plain loop over 16-bit lanes (four per draw, low first), odd lengths included.
        for (p, count) in [(Float(0.1), 10000), (0.25, 10001), (0.5, 10002), (0.3333, 10003)] {
            var fast = SeededGenerator(seed: 8), reference = SeededGenerator(seed: 8)
            var draw: UInt64 = 0
            let expected: [Float] = (0..<count).map { i in
                if i % 4 == 0 { draw = reference.next() }
                return (draw >> UInt64(16 * (i % 4))) & 0xFFFF < UInt64((p * 65536).rounded()) ? 0 : 1 / (1 - p)
            }
            let ones = Tensor.filled([count], value: 1)
            XCTAssertEqual(ones.dropout(p, training: true, using: &fast).scalars, expected, "p \(p), \(count) elements")
        }
    }

    func testLearningRateSchedules() {
        let cosine = LearningRateSchedule.cosine(base: 0.01, warmup: 3, total: 10, minimum: 0)
        XCTAssertEqual(cosine.rate(at: 0), 0.01 / 3, accuracy: 1e-9)
        XCTAssertEqual(cosine.rate(at: 2), 0.01, accuracy: 1e-9)
        XCTAssertEqual(cosine.rate(at: 3), 0.01, accuracy: 1e-9)
        XCTAssertEqual(cosine.rate(at: 10), 0, accuracy: 1e-9)
        XCTAssertEqual(cosine.rate(at: 6), 0.01 * 0.5 * (1 + cos(Float.pi * 3 / 7)), accuracy: 1e-7)
        let inverse = LearningRateSchedule.inverseSquareRoot(base: 0.01, warmup: 100)
        XCTAssertEqual(inverse.rate(at: 99), 0.01, accuracy: 1e-9)
        XCTAssertEqual(inverse.rate(at: 399), 0.005, accuracy: 1e-9)
    }

    func testClipGradNormScalesToMaxNorm() {
        let p = Tensor.zeros([2], requiresGrad: true), q = Tensor.zeros([1], requiresGrad: true)
        p.grad = Tensor(shape: [2], scalars: [3, 0]); q.grad = Tensor(shape: [1], scalars: [4])
        XCTAssertEqual(clipGradNorm([p, q], maxNorm: 1), 5, accuracy: 1e-6)
        XCTAssertEqual(p.grad!.scalars[0], 0.6, accuracy: 1e-5)
        XCTAssertEqual(q.grad!.scalars[0], 0.8, accuracy: 1e-5)
        XCTAssertEqual(clipGradNorm([p, q], maxNorm: 10), 1, accuracy: 1e-5)
        XCTAssertEqual(q.grad!.scalars[0], 0.8, accuracy: 1e-5, "no scaling below the limit")
    }

    func testWithoutGradRecordsNothing() {
        let w = Tensor.filled([2, 2], value: 1).requiringGrad()
        XCTAssertTrue((w * 2).requiresGrad)
        XCTAssertFalse(withoutGrad { w * 2 }.requiresGrad)
    }

    func testGradientsAccumulateAcrossBackwardCalls() {
        let w = Tensor(shape: [2], scalars: [1, 2], requiresGrad: true)
        (w * 3).sum().backward()
        (w * 3).sum().backward()
        XCTAssertEqual(w.grad!.scalars, [6, 6])
    }

    func testBufferPoolSizeClassesWasteAtMostAnEighthAndRecycle() {
        for count in [1, 1000, 65_536, 65_537, 100_000, 1_000_003, 62_000_000] {
            let size = BufferPool.sizeClass(count)
            XCTAssertGreaterThanOrEqual(size, count)
            XCTAssertLessThanOrEqual(Double(size), Double(count) * 1.125 + 1, "class of \(count)")
        }
        var first: UnsafeMutablePointer<Float>?
        do { let a = Storage(count: 200_000); first = a.pointer }
        let b = Storage(count: 199_000)   // same size class: the released buffer comes back
        XCTAssertEqual(b.pointer, first)
    }
}

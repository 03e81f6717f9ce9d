import Foundation
@testable import TensorEngine
import XCTest

/// Each fast kernel against the plain reference it replaces.
final class FastKernelTests: XCTestCase {
    func testFastExpIsWithinThreeUlpOfLibm() {
        var worst: Float = 0
        for i in 0...200_000 {
            let x = -87 + Float(i) * (175 / 200_000)
            let reference = Foundation.exp(x)
            worst = max(worst, abs(fastExp(x) - reference) / reference)
        }
        XCTAssertLessThan(worst, 3.6e-7, "largest relative error \(worst)")
        XCTAssertEqual(fastExp(-200), 0, accuracy: 1e-37)
        XCTAssertTrue(fastExp(200).isFinite)
    }

    func testFastTanhAbsoluteError() {
        var worst: Float = 0
        for i in 0...200_000 {
            let x = -20 + Float(i) * (40 / 200_000)
            worst = max(worst, abs(fastTanh(x) - Foundation.tanh(x)))
        }
        XCTAssertLessThan(worst, 2e-7, "largest absolute error \(worst)")
    }

    func testFusedGatedGELUMatchesComposite() {
        var rng = SeededGenerator(seed: 11)
        let a1 = Tensor.normal([3, 70_000], std: 2, using: &rng).requiringGrad(), b1 = Tensor.normal([3, 70_000], using: &rng).requiringGrad()
        let a2 = a1.copy().requiringGrad(), b2 = b1.copy().requiringGrad()
        let seed = Tensor.normal([3, 70_000], using: &rng)
        let fused = gatedGELU(a1, b1), composite = gatedGELUComposite(a2, b2)
        assertClose(fused, composite, "gated gelu forward", atol: 1e-6, rtol: 1e-5)
        fused.backward(seed: seed); composite.backward(seed: seed)
        assertClose(a1.grad, a2.grad!, "gated gelu da", atol: 1e-6, rtol: 1e-5)
        assertClose(b1.grad, b2.grad!, "gated gelu db", atol: 1e-6, rtol: 1e-5)
    }

    func testEightWideExpEqualsScalarFastExp() {
        for start in stride(from: Float(-90), to: 90, by: 0.37) {
            let xs = SIMD8<Float>((0..<8).map { start + Float($0) * 0.041 })
            let wide = fastExp8(xs)
            for lane in 0..<8 { XCTAssertEqual(wide[lane].bitPattern, fastExp(xs[lane]).bitPattern, "x = \(xs[lane])") }
        }
    }

    func testRowReductionsMatchNaiveLoops() {
        var rng = SeededGenerator(seed: 9)
        for n in [0, 1, 7, 8, 9, 31, 100] {
            let x = (0..<n).map { _ in rng.normal() }, y = (0..<n).map { _ in rng.normal() }
            x.withUnsafeBufferPointer { px in
                y.withUnsafeBufferPointer { py in
                    let (a, b) = (px.baseAddress ?? UnsafePointer(bitPattern: 64)!, py.baseAddress ?? UnsafePointer(bitPattern: 64)!)
                    XCTAssertEqual(rowMax(a, n), x.max() ?? -.infinity)
                    XCTAssertEqual(rowSum(a, n), x.reduce(0, +), accuracy: 1e-5)
                    XCTAssertEqual(rowDot(a, b, n), zip(x, y).map(*).reduce(0, +), accuracy: 1e-5)
                    XCTAssertEqual(rowSumExpShifted(a, n, shift: 0.5), x.map { Foundation.exp($0 - 0.5) }.reduce(0, +), accuracy: 1e-4)
                }
            }
        }
    }
}

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
}

import CVectorMath
@testable import TensorEngine
import TestSupport
import XCTest

/// `fusedLinear` (bias inside the product, GELU in place with its stored derivative, C kernels per vector width)
/// against the composite it replaces, matmul(x, Wᵀ) + b then geluErf, and against central differences.
final class FusedLinearTests: XCTestCase {
    /// The vector kernels against their scalar Swift reference, over GELU's whole interesting range and past erf's clamp.
    func testGELUKernelsMatchTheScalarReference() {
        let n = 20_001
        let inputs = (0..<n).map { -10 + Float($0) * (20 / Float(n - 1)) }
        var values = inputs, inPlace = inputs, derivatives = [Float](repeating: .nan, count: n)
        vm_gelu_erf_with_derivative(&values, &derivatives, n)
        vm_gelu_erf(&inPlace, n)
        for (i, x) in inputs.enumerated() {
            let (value, derivative) = geluErfWithDerivative(x)
            XCTAssertEqual(values[i], value, accuracy: 2e-6 * max(1, abs(value)), "GELU(\(x))")
            XCTAssertEqual(inPlace[i], value, accuracy: 2e-6 * max(1, abs(value)), "GELU(\(x)), value only")
            XCTAssertEqual(derivatives[i], derivative, accuracy: 2e-6, "GELU′(\(x))")
            XCTAssertEqual(derivative, Float(geluDerivative(Double(x))), accuracy: 2e-6, "reference GELU′(\(x)) against libm")
        }
    }

    func testForwardAndGradientsMatchTheComposite() {
        var rng = SeededGenerator(seed: 5)
        for gelu in [false, true] {
            let x = Tensor.normal([3, 7, 10], using: &rng).requiringGrad()
            let w = Tensor.normal([13, 10], std: 0.5, using: &rng).requiringGrad(), b = Tensor.normal([13], using: &rng).requiringGrad()
            let (x2, w2, b2) = (Tensor(shape: x.shape, scalars: x.scalars, requiresGrad: true), Tensor(shape: w.shape, scalars: w.scalars, requiresGrad: true),
                                Tensor(shape: b.shape, scalars: b.scalars, requiresGrad: true))
            let fast = fusedLinear(x, weight: w, bias: b, gelu: gelu)
            var reference = matmul(x2, w2, transposeB: true) + b2
            if gelu { reference = reference.geluErf() }
            assertClose(fast, reference, "forward, gelu \(gelu)", atol: 1e-5, rtol: 1e-5)
            assertClose(withoutGrad { fusedLinear(x, weight: w, bias: b, gelu: gelu) }, reference, "forward without a graph, gelu \(gelu)", atol: 1e-5, rtol: 1e-5)
            let seed = Tensor.normal(fast.shape, using: &rng)
            fast.backward(seed: seed)
            reference.backward(seed: seed)
            assertClose(x.grad, x2.grad!, "dx, gelu \(gelu)", atol: 1e-5, rtol: 1e-4)
            assertClose(w.grad, w2.grad!, "dW, gelu \(gelu)", atol: 1e-5, rtol: 1e-4)
            assertClose(b.grad, b2.grad!, "db, gelu \(gelu)", atol: 1e-5, rtol: 1e-4)
        }
    }

    /// Central differences (as FiniteDifferenceTests) on every input, with and without GELU; an input without a
    /// gradient (pixels into the patch embedding) gets none.
    func testGradientsMatchCentralDifferences() {
        var rng = SeededGenerator(seed: 8)
        for gelu in [false, true] {
            let inputs = [Tensor.normal([4, 6], using: &rng).requiringGrad(), Tensor.normal([5, 6], std: 0.5, using: &rng).requiringGrad(),
                          Tensor.normal([5], using: &rng).requiringGrad()]
            let weights = Tensor.normal([4, 5], using: &rng)
            func loss() -> Double {
                let out = withoutGrad { fusedLinear(inputs[0], weight: inputs[1], bias: inputs[2], gelu: gelu) }
                return (0..<out.count).reduce(0) { $0 + Double(out[flat: $1]) * Double(weights[flat: $1]) }
            }
            fusedLinear(inputs[0], weight: inputs[1], bias: inputs[2], gelu: gelu).backward(seed: weights)
            let h: Float = 1e-2
            for (k, input) in inputs.enumerated() {
                for i in 0..<input.count {
                    let saved = input.data[i]
                    input.data[i] = saved + h; let plus = loss()
                    input.data[i] = saved - h; let minus = loss()
                    input.data[i] = saved
                    XCTAssertEqual(input.grad![flat: i], Float((plus - minus) / Double(2 * h)), accuracy: 5e-3, "input \(k)[\(i)], gelu \(gelu)")
                }
            }
        }
        let constant = Tensor.normal([2, 3], using: &rng), w = Tensor.normal([4, 3], using: &rng).requiringGrad()
        fusedLinear(constant, weight: w, bias: Tensor.zeros([4], requiresGrad: true), gelu: true).sum().backward()
        XCTAssertNil(constant.grad)
        XCTAssertNotNil(w.grad)
    }

    private func geluDerivative(_ x: Double) -> Double { 0.5 * (1 + erf(x / 2.0.squareRoot())) + x * exp(-x * x / 2) / (2 * Double.pi).squareRoot() }
}

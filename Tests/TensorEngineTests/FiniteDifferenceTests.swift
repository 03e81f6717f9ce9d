import TensorEngine
import XCTest

/// Central finite differences against every gradient rule, on small random inputs. In Float32 with
/// h = 1e-2 the numeric estimate is good to ~1e-3 relative, while a wrong rule is off by O(1).
final class FiniteDifferenceTests: XCTestCase {
    private var rng = SeededGenerator(seed: 7)

    private func randn(_ shape: [Int], scale: Float = 1) -> Tensor {
        Tensor.normal(shape, std: scale, using: &rng).requiringGrad()
    }

    private func positive(_ shape: [Int]) -> Tensor {
        Tensor.uniform(shape, low: 0.5, high: 2, using: &rng).requiringGrad()
    }

    /// Checks d/dx of sum(f(inputs) ⊙ w) for a fixed random w against central differences.
    private func check(_ name: String, _ inputs: [Tensor], h: Float = 1e-2, tolerance: Float = 5e-3,
                       file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor) {
        let probe = withoutGrad { f(inputs) }
        let weights = Tensor.normal(probe.shape, using: &rng)
        func loss() -> Double {
            let out = withoutGrad { f(inputs) }
            var total: Double = 0
            for i in 0..<out.count { total += Double(out[flat: i]) * Double(weights[flat: i]) }
            return total
        }
        for input in inputs { input.grad = nil }
        f(inputs).backward(seed: weights)
        for (k, input) in inputs.enumerated() where input.requiresGrad {
            guard let grad = input.grad else { XCTFail("\(name): input \(k) got no gradient", file: file, line: line); continue }
            var worst: Float = 0, scale: Float = 1
            for i in 0..<input.count {
                let saved = input.data[i]
                input.data[i] = saved + h; let plus = loss()
                input.data[i] = saved - h; let minus = loss()
                input.data[i] = saved
                let numeric = Float((plus - minus) / Double(2 * h))
                worst = max(worst, abs(numeric - grad[flat: i]))
                scale = max(scale, abs(numeric))
            }
            XCTAssertLessThanOrEqual(worst, tolerance * scale, "\(name): input \(k) gradient off by \(worst)", file: file, line: line)
        }
    }

    func testBinaryBroadcasting() {
        check("add", [randn([2, 3, 4]), randn([3, 1])]) { $0[0] + $0[1] }
        check("sub", [randn([2, 3, 4]), randn([4])]) { $0[0] - $0[1] }
        check("mul", [randn([2, 1, 4]), randn([3, 1])]) { $0[0] * $0[1] }
        check("div", [randn([2, 3, 4]), positive([1, 3, 1])]) { $0[0] / $0[1] }
        check("row-scalar mul", [randn([2, 3, 1]), randn([2, 3, 4])]) { $0[0] * $0[1] }
        check("row-scalar add", [randn([2, 3, 4]), randn([2, 3, 1])]) { $0[0] + $0[1] }
        check("leading-broadcast div", [randn([4]), positive([2, 3, 4])]) { $0[0] / $0[1] }
        check("self-mul", [randn([3, 4])]) { $0[0] * $0[0] }
        check("affine", [randn([3, 4])]) { $0[0] * 2.5 + 1 }
    }

    func testUnary() {
        check("exp", [randn([3, 4])]) { $0[0].exp() }
        check("log", [positive([3, 4])]) { $0[0].log() }
        check("sqrt", [positive([3, 4])]) { $0[0].sqrt() }
        check("rsqrt", [positive([3, 4])]) { $0[0].rsqrt() }
        check("tanh", [randn([3, 4])]) { $0[0].tanh() }
        check("relu", [randn([3, 4])], h: 1e-3) { $0[0].relu() }
        check("square", [randn([3, 4])]) { $0[0].square() }
        check("gelu tanh", [randn([3, 4], scale: 2)]) { $0[0].geluTanh() }
        check("gelu exact", [randn([3, 4], scale: 2)]) { $0[0].geluExact() }
        check("gated gelu", [randn([3, 4]), randn([3, 4])]) { gatedGELU($0[0], $0[1]) }
    }

    func testMatmulEveryTransposeAndBatchForm() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randn(ta ? [4, 3] : [3, 4]), b = randn(tb ? [5, 4] : [4, 5])
            check("matmul \(ta) \(tb)", [a, b]) { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
            let ba = randn(ta ? [2, 4, 3] : [2, 3, 4]), bb = randn(tb ? [2, 5, 4] : [2, 4, 5])
            check("bmm \(ta) \(tb)", [ba, bb]) { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
            check("bmm shared rhs \(ta) \(tb)", [ba, b]) { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
        }
    }

    func testReductions() {
        check("sum axis", [randn([2, 3, 4])]) { $0[0].sum(axis: 1) }
        check("sum keep", [randn([2, 3, 4])]) { $0[0].sum(axis: -1, keepDim: true) }
        check("mean", [randn([2, 3, 4])]) { $0[0].mean(axis: 0) }
        check("max", [randn([2, 3, 4])], h: 1e-3) { $0[0].max(axis: 2) }
        check("sum all", [randn([2, 3])]) { $0[0].sum() }
    }

    func testNormalisations() {
        // A moderate mask value: with -1e9, x + mask has no precision left for a finite difference.
        let mask = Tensor(shape: [2, 1, 5], scalars: [0, 0, -3, 0, 0, 0, -3, -3, 0, 0])
        check("softmax", [randn([2, 3, 5])]) { $0[0].softmax(mask: mask) }
        check("log softmax", [randn([2, 3, 5])]) { $0[0].logSoftmax(mask: mask) }
        check("layer norm", [randn([2, 3, 8]), randn([8]), randn([8])]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
        check("rms norm", [randn([2, 3, 8]), randn([8])]) { $0[0].rmsNorm(weight: $0[1]) }
        check("l2 normalise", [randn([3, 5])]) { $0[0].l2Normalized() }
    }

    func testIndexingAndLayout() {
        check("reshape", [randn([2, 3, 4])]) { $0[0].reshaped([4, -1]) }
        check("permute", [randn([2, 3, 4])]) { $0[0].permuted([2, 0, 1]) }
        check("transpose", [randn([2, 3, 4])]) { $0[0].transposed(0, 2) }
        check("concat", [randn([2, 3, 4]), randn([2, 2, 4])]) { concat($0, axis: 1) }
        check("slice", [randn([2, 5, 4])]) { $0[0].slice(axis: 1, start: 1, end: 4) }
        check("index select", [randn([2, 5, 4])]) { $0[0].indexSelect(axis: 1, [4, 0, 4]) }
        check("embedding", [randn([6, 3])]) { embedding($0[0], indices: [1, 2, 1, 5, 0, 1], indexShape: [2, 3]) }
        check("squared distances", [randn([5, 4]), randn([3, 4])]) { squaredDistances($0[0], $0[1]) }
    }

    func testFusedAttention() {
        let mask = Tensor(shape: [2, 1, 1, 4], scalars: [0, 0, 0, -3, 0, 0, 0, 0])
        check("attention", [randn([2, 3, 8]), randn([2, 4, 8]), randn([2, 4, 8]), randn([2, 3, 4])]) {
            scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], heads: 2, scale: 0.5, bias: $0[3], mask: mask)
        }
        check("attention, batch-shared bias", [randn([2, 3, 8]), randn([2, 3, 8]), randn([2, 3, 8]), randn([1, 2, 3, 3])]) {
            scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], heads: 2, scale: 1, bias: $0[3])
        }
    }

    func testLosses() {
        let targets: [Int32] = [3, -1, 0, 7, 2, 2]
        check("cross entropy", [randn([6, 10])]) { crossEntropy($0[0], targets: targets) }
        let allowed = AllowedClasses(rows: [[1, 3, 5], [0], [0, 9], [7], [2, 4, 6, 8], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])
        check("constrained cross entropy", [randn([6, 10])]) { crossEntropy($0[0], targets: targets, allowed: allowed) }
        // Rows 1, 3 and 5 have no soft target (row 1 is ignored anyway); the others blend 40% of their distribution in.
        let soft = SoftTargets(offsets: [0, 2, 2, 3, 3, 5, 5], classes: [1, 5, 9, 4, 8], weights: [0.25, 0.75, 1, 0.5, 0.5], mix: 0.4)
        check("cross entropy with soft targets", [randn([6, 10])]) { crossEntropy($0[0], targets: targets, soft: soft) }
        check("constrained cross entropy with soft targets", [randn([6, 10])]) {
            crossEntropy($0[0], targets: targets, allowed: allowed, soft: soft)
        }
        let t = Tensor(shape: [3, 4], scalars: [1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1])
        check("bce", [randn([3, 4])]) { binaryCrossEntropyWithLogits($0[0], targets: t) }
    }

    func testStopGradientCutsThePath() {
        let x = randn([3, 4])
        (x * x.detached()).sum().backward()
        for i in 0..<x.count { XCTAssertEqual(x.grad![flat: i], x[flat: i], accuracy: 1e-6) }
    }

    func testParameterOutsideTheGraphGetsNoGradient() {
        // A parameter that does not feed the loss keeps grad == nil (not a silent zero), so a wiring mistake shows.
        let used = randn([2]), unused = randn([2])
        (used * 2).sum().backward()
        XCTAssertNotNil(used.grad)
        XCTAssertNil(unused.grad)
    }
}

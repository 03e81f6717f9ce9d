import TensorEngine
import XCTest

/// The soft-target cross-entropy (distillation) against the definition −Σ_k t_k log p_k with the blended target
/// t = (1 − m)·onehot(target) + m·w, computed here in Double from scratch.
final class SoftTargetTests: XCTestCase {
    private let targets: [Int32] = [2, 0, -1, 3]
    private let allowed = AllowedClasses(rows: [[0, 2, 4], [0, 1, 2, 3, 4], [1], [3, 4]])
    private let soft = SoftTargets(offsets: [0, 3, 3, 3, 5], classes: [0, 2, 4, 3, 4], weights: [0.2, 0.3, 0.5, 0.9, 0.1], mix: 0.3)

    private func reference(_ logits: [Float], constrained: Bool) -> Double {
        var total = 0.0, counted = 0
        for r in 0..<4 where targets[r] >= 0 {
            let row = (0..<5).map { Double(logits[r * 5 + $0]) }
            let support = constrained ? allowed.row(r).map(Int.init) : Array(0..<5)
            let logZ = log(support.map { exp(row[$0]) }.reduce(0, +))
            var target = [Double](repeating: 0, count: 5)
            let range = Int(soft.offsets[r])..<Int(soft.offsets[r + 1])
            let m = range.isEmpty ? 0 : Double(soft.mix)
            target[Int(targets[r])] += 1 - m
            for k in range { target[Int(soft.classes[k])] += m * Double(soft.weights[k]) }
            total += (0..<5).reduce(0.0) { $0 - target[$1] * (target[$1] > 0 ? row[$1] - logZ : 0) }
            counted += 1
        }
        return total / Double(counted)
    }

    func testLossMatchesTheDefinition() {
        var rng = SeededGenerator(seed: 3)
        let logits = Tensor.normal([4, 5], std: 2, using: &rng)
        let values = (0..<20).map { logits[flat: $0] }
        XCTAssertEqual(Double(crossEntropy(logits, targets: targets, soft: soft).item), reference(values, constrained: false), accuracy: 1e-5)
        XCTAssertEqual(Double(crossEntropy(logits, targets: targets, allowed: allowed, soft: soft).item),
                       reference(values, constrained: true), accuracy: 1e-5)
    }

    func testZeroMixIsTheHardLossAndGradient() {
        var rng = SeededGenerator(seed: 4)
        let a = Tensor.normal([4, 5], using: &rng).requiringGrad(), b = a.copy().requiringGrad()
        let zero = SoftTargets(offsets: soft.offsets, classes: soft.classes, weights: soft.weights, mix: 0)
        let hard = crossEntropy(a, targets: targets, allowed: allowed), blended = crossEntropy(b, targets: targets, allowed: allowed, soft: zero)
        XCTAssertEqual(hard.item, blended.item)
        hard.backward(); blended.backward()
        for i in 0..<20 { XCTAssertEqual(a.grad![flat: i], b.grad![flat: i]) }
    }

    func testGradientOfAFullySoftRowIsProbabilitiesMinusTeacher() {
        // One row, mix 1: d loss / d z = softmax(z) − w, whatever the hard target.
        let logits = Tensor(shape: [1, 3], scalars: [0.5, -1, 2]).requiringGrad()
        let teacher = SoftTargets(offsets: [0, 3], classes: [0, 1, 2], weights: [0.6, 0.3, 0.1], mix: 1)
        crossEntropy(logits, targets: [1], soft: teacher).backward()
        let e = [0.5, -1.0, 2.0].map { exp($0) }, z = e.reduce(0, +)
        for k in 0..<3 { XCTAssertEqual(Double(logits.grad![flat: k]), e[k] / z - [0.6, 0.3, 0.1][k], accuracy: 1e-6) }
    }
}

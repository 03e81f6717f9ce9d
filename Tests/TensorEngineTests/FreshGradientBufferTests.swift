@testable import TensorEngine
import XCTest

/// Rules that write every element of a new gradient buffer get it unzeroed (`InputGradients.target`). A rule that
/// still added into such a buffer would read whatever the buffer pool left there; here the pool is filled with NaN,
/// then with 1e30, and a block using every such rule at pooled sizes must give the same finite gradients as after
/// a zero fill.
final class FreshGradientBufferTests: XCTestCase {
    private func fillPool(with value: Float) {
        var taken: [(UnsafeMutablePointer<Float>, Int)] = []
        var count = BufferPool.minimumPooled + 1
        while count <= 600_000 {
            for _ in 0..<3 {
                let (pointer, capacity) = BufferPool.take(count)
                pointer.initialize(repeating: value, count: capacity)
                taken.append((pointer, capacity))
            }
            count = BufferPool.sizeClass(count) + 1
        }
        for (pointer, capacity) in taken { BufferPool.give(pointer, capacity: capacity) }
    }

    /// Gradients of every input of a transformer-like block whose activations (3 × 100 × 256 and up) are pooled.
    private func gradients(afterFillingThePoolWith value: Float) -> [[Float]] {
        var rng = SeededGenerator(seed: 31)
        let x = Tensor.normal([3, 100, 256], using: &rng).requiringGrad()
        let norm = Tensor.uniform([256], low: 0.5, high: 1.5, using: &rng).requiringGrad()
        let w1 = Tensor.normal([256, 512], std: 0.05, using: &rng).requiringGrad()
        let w2 = Tensor.normal([512, 256], std: 0.05, using: &rng).requiringGrad()    // fused layer: [out, in]
        let w3 = Tensor.normal([512, 256], std: 0.05, using: &rng).requiringGrad()
        let b2 = Tensor.normal([512], std: 0.05, using: &rng).requiringGrad()
        let shared = Tensor.normal([512, 64], std: 0.05, using: &rng).requiringGrad()
        let seed = Tensor.normal([3, 100, 64], using: &rng)
        let inputs = [x, norm, w1, w2, b2, w3, shared]
        fillPool(with: value)
        let h = x.rmsNorm(weight: norm)
        let ffn = gatedGELU(h.linear(w1), fusedLinear(h, weight: w2, bias: b2)).linear(w3)
        let mixed = scaledDotProductAttention(query: ffn, key: ffn, value: ffn, heads: 8, scale: 0.2)   // one input thrice
        let shuffled = mixed.permuted([1, 0, 2]).permuted([1, 0, 2]).reshaped([300, 256]).reshaped([3, 100, 256])
        let residual = (shuffled + x) * ffn - x / 2
        let out = matmul(concat([residual, h], axis: 2), shared)                 // one B for the whole batch
        out.backward(seed: seed)
        return inputs.map { $0.grad?.scalars ?? [] }
    }

    /// An empty batch against a shared right-hand side runs no product, yet the shared operand's gradient is all zeros.
    func testEmptyBatchGivesTheSharedOperandAZeroGradient() {
        var rng = SeededGenerator(seed: 32)
        let a = Tensor.normal([0, 5, 300], using: &rng).requiringGrad(), b = Tensor.normal([300, 300], using: &rng).requiringGrad()
        fillPool(with: .nan)
        let out = matmul(a, b)
        out.backward(seed: Tensor(shape: out.shape, scalars: []))
        XCTAssertEqual(b.grad?.scalars, [Float](repeating: 0, count: 300 * 300))
    }

    func testRulesStoringIntoFreshBuffersNeverReadThem() {
        let clean = gradients(afterFillingThePoolWith: 0)
        XCTAssertTrue(clean.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isFinite) }, "every input gets a finite gradient")
        for poison: Float in [.nan, 1e30] {
            let dirty = gradients(afterFillingThePoolWith: poison)
            for (k, (expected, actual)) in zip(clean, dirty).enumerated() {
                XCTAssertEqual(actual.count, expected.count)
                let differing = zip(expected, actual).filter { $0 != $1 }.count
                XCTAssertEqual(differing, 0, "input \(k): \(differing) gradient elements changed with the pool filled with \(poison)")
            }
        }
    }
}

import Models
import TensorEngine
import TestSupport
import XCTest

/// The row-picking forward (last block on the asked rows only) against the full forward's rows: the same tokens and
/// the same gradient for every parameter, with interpolated positions, masked patches and repeated or unordered rows.
final class ViTRowsTests: XCTestCase {
    func testPickedRowsMatchTheFullForwardAndItsGradients() {
        let config = ViTConfig(hiddenSize: 16, layers: 2, heads: 2, mlpRatio: 2, patchSize: 4, imageSize: 12, layerScaleInit: 0.5)
        let full = VisionTransformer(config: config, seed: 3), picked = VisionTransformer(config: config, seed: 3)
        var rng = SeededGenerator(seed: 9)
        let (batch, h, w) = (3, 16, 8), tokens = 1 + (16 / 4) * (8 / 4)
        let pixels = (0..<(batch * 3 * h * w)).map { _ in rng.normal() }
        let mask = (0..<(batch * (tokens - 1))).map { _ in rng.uniform() < 0.3 }
        let rows: [Int32] = VisionTransformer.clsRows(batch: batch, tokens: tokens) + [5, 1, 2 * Int32(tokens) + 7, 5, Int32(tokens) + 8]
        let seed = Tensor(shape: [rows.count, 16], scalars: (0..<(rows.count * 16)).map { _ in rng.normal() })

        let reference = full(pixels: pixels, batch: batch, height: h, width: w, masked: mask).reshaped([batch * tokens, 16]).indexSelect(axis: 0, rows)
        let fast = picked(pixels: pixels, batch: batch, height: h, width: w, masked: mask, rows: rows)
        assertClose(fast, reference, "picked rows", atol: 1e-5, rtol: 1e-5)
        (reference * seed).sum().backward()
        (fast * seed).sum().backward()
        for ((name, a), (_, b)) in zip(picked.namedParameters, full.namedParameters) {
            assertClose(a.grad, b.grad!, "d/d \(name)", atol: 1e-5, rtol: 1e-4)
        }
        XCTAssertNotNil(full.blocks[1].fc2.grad)
    }
}

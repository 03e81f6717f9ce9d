import Models
import SafeTensors
import TensorEngine
import TestSupport
import XCTest

/// Attention and full T5 layers against PyTorch (scripts/make_fixtures.py): output and every gradient.
final class PyTorchModelFixtureTests: XCTestCase {
    /// Loads every float tensor of a fixture as a leaf; inputs listed in `constants` get no gradient.
    private func leaves(_ f: SafeTensors, constants: Set<String>) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for name in f.names where !name.hasPrefix("grad.") && name != "out" && name != "dout" && name != "buckets" {
            out[name] = try f.tensor(name, requiresGrad: !constants.contains(name))
        }
        return out
    }

    private func compareGradients(_ f: SafeTensors, _ leaves: [String: Tensor], _ caseName: String, atol: Float, rtol: Float) throws {
        let gradNames = f.names.filter { $0.hasPrefix("grad.") }
        XCTAssertFalse(gradNames.isEmpty)
        for gradName in gradNames {
            let key = String(gradName.dropFirst("grad.".count))
            assertClose(leaves[key]?.grad, try f.tensor(gradName), "\(caseName).\(gradName)", atol: atol, rtol: rtol)
        }
    }

    private func attention(_ p: [String: Tensor], _ prefix: String, heads: Int, scale: Float) -> MultiHeadAttention {
        MultiHeadAttention(query: p["\(prefix)q"]!, key: p["\(prefix)k"]!, value: p["\(prefix)v"]!, output: p["\(prefix)o"]!,
                           heads: heads, scale: scale)
    }

    func testT5RelativePositionBucketsMatchReference() throws {
        let f = try loadFixture("t5_buckets.safetensors")
        let relative = try f.ints("relative_position")
        for (direction, bidirectional) in [("bidirectional", true), ("unidirectional", false)] {
            let expected = try f.ints(direction)
            let ours = relative.map { RelativePositionBuckets.bucket($0, bidirectional: bidirectional, buckets: 32, maxDistance: 128) }
            XCTAssertEqual(ours, expected, direction)
        }
    }

    func testMultiHeadAttentionWithBiasCausalAndPaddingMasks() throws {
        // Both the fused primitive and the composite reference must match PyTorch.
        for fused in [true, false] {
            let f = try loadFixture("attention.safetensors")
            let p = try leaves(f, constants: ["key_pad"])
            let mask = AttentionMask.keyPadding(p["key_pad"]!) + AttentionMask.causal(5)
            let layer = attention(p, "w", heads: 4, scale: 0.5)
            let out = fused ? layer(p["x"]!, positionBias: p["pos_bias"]!, mask: mask)
                            : layer.composite(p["x"]!, positionBias: p["pos_bias"]!, mask: mask)
            let label = fused ? "attention(fused)" : "attention(composite)"
            assertClose(out, try f.tensor("out"), "\(label).out", atol: 1e-5, rtol: 1e-4)
            out.backward(seed: try f.tensor("dout"))
            try compareGradients(f, p, label, atol: 1e-5, rtol: 1e-3)
        }
    }

    func testFusedAttentionMatchesCompositeOnLargerShapes() {
        var rng = SeededGenerator(seed: 21)
        let layer = MultiHeadAttention(dModel: 32, heads: 4, headDim: 16, scale: 0.25, using: &rng)
        let x1 = Tensor.normal([3, 7, 32], using: &rng).requiringGrad(), x2 = x1.copy().requiringGrad()
        let context1 = Tensor.normal([3, 9, 32], using: &rng).requiringGrad(), context2 = context1.copy().requiringGrad()
        let bias1 = Tensor.normal([3, 4, 7, 9], using: &rng).requiringGrad(), bias2 = bias1.copy().requiringGrad()
        let padding = Tensor(shape: [3, 9], scalars: (0..<27).map { $0 % 9 >= 6 && $0 / 9 == 1 ? 1 : 0 })
        let mask = AttentionMask.keyPadding(padding)
        let seed = Tensor.normal([3, 7, 32], using: &rng)
        let fused = layer(x1, context: context1, positionBias: bias1, mask: mask)
        let composite = layer.composite(x2, context: context2, positionBias: bias2, mask: mask)
        assertClose(fused, composite, "cross attention out", atol: 1e-5, rtol: 1e-4)
        fused.backward(seed: seed); composite.backward(seed: seed)
        assertClose(x1.grad, x2.grad!, "dx", atol: 1e-5, rtol: 1e-3)
        assertClose(context1.grad, context2.grad!, "dcontext", atol: 1e-5, rtol: 1e-3)
        assertClose(bias1.grad, bias2.grad!, "dbias", atol: 1e-5, rtol: 1e-3)

        // Attention-probability dropout: the same draws (same seed) on both paths, outputs and every gradient equal.
        for tensor in [x1, x2, context1, context2, bias1, bias2] { tensor.grad = nil }
        let dropped = layer(x1, context: context1, positionBias: bias1, mask: mask, dropout: DropoutContext(rate: 0.3, seed: 5))
        let droppedComposite = layer.composite(x2, context: context2, positionBias: bias2, mask: mask,
                                               dropout: DropoutContext(rate: 0.3, seed: 5))
        assertClose(dropped, droppedComposite, "dropout attention out", atol: 1e-5, rtol: 1e-4)
        XCTAssertGreaterThan(zip(dropped.scalars, fused.scalars).map { abs($0 - $1) }.max()!, 1e-3, "dropout must change the output")
        dropped.backward(seed: seed); droppedComposite.backward(seed: seed)
        assertClose(x1.grad, x2.grad!, "dropout dx", atol: 1e-5, rtol: 1e-3)
        assertClose(context1.grad, context2.grad!, "dropout dcontext", atol: 1e-5, rtol: 1e-3)
        assertClose(bias1.grad, bias2.grad!, "dropout dbias", atol: 1e-5, rtol: 1e-3)
    }

    func testT5EncoderLayer() throws {
        let f = try loadFixture("t5_encoder_block.safetensors")
        let p = try leaves(f, constants: ["key_pad"])
        let layer = T5EncoderLayer(attentionNorm: p["ln1"]!, attention: attention(p, "w", heads: 4, scale: 1),
                                   feedForwardNorm: p["ln2"]!,
                                   feedForward: T5FeedForward(gate: p["wi0"]!, linear: p["wi1"]!, output: p["wff_o"]!),
                                   epsilon: 1e-6)
        let bias = RelativePositionBias(table: p["rel_bias"]!, bidirectional: true, maxDistance: 128)
        XCTAssertEqual(RelativePositionBuckets.matrix(queryLength: 5, keyLength: 5, bidirectional: true, buckets: 32, maxDistance: 128),
                       try f.indices("buckets"))
        let out = layer(p["x"]!, positionBias: bias.bias(queryLength: 5, keyLength: 5), mask: AttentionMask.keyPadding(p["key_pad"]!))
        assertClose(out, try f.tensor("out"), "t5_encoder_block.out", atol: 2e-5, rtol: 1e-4)
        out.backward(seed: try f.tensor("dout"))
        try compareGradients(f, p, "t5_encoder_block", atol: 2e-5, rtol: 1e-3)
    }

    func testT5DecoderLayer() throws {
        let f = try loadFixture("t5_decoder_block.safetensors")
        let p = try leaves(f, constants: ["enc_pad"])
        let layer = T5DecoderLayer(selfAttentionNorm: p["ln1"]!, selfAttention: attention(p, "w", heads: 4, scale: 1),
                                   crossAttentionNorm: p["ln_c"]!, crossAttention: attention(p, "c", heads: 4, scale: 1),
                                   feedForwardNorm: p["ln2"]!,
                                   feedForward: T5FeedForward(gate: p["wi0"]!, linear: p["wi1"]!, output: p["wff_o"]!),
                                   epsilon: 1e-6)
        let bias = RelativePositionBias(table: p["rel_bias"]!, bidirectional: false, maxDistance: 128)
        XCTAssertEqual(RelativePositionBuckets.matrix(queryLength: 4, keyLength: 4, bidirectional: false, buckets: 32, maxDistance: 128),
                       try f.indices("buckets"))
        let out = layer(p["y"]!, encoderOutput: p["enc"]!, positionBias: bias.bias(queryLength: 4, keyLength: 4),
                        selfMask: AttentionMask.causal(4), crossMask: AttentionMask.keyPadding(p["enc_pad"]!))
        assertClose(out, try f.tensor("out"), "t5_decoder_block.out", atol: 2e-5, rtol: 1e-4)
        out.backward(seed: try f.tensor("dout"))
        try compareGradients(f, p, "t5_decoder_block", atol: 2e-5, rtol: 1e-3)
    }
}

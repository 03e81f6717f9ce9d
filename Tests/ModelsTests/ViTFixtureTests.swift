import Foundation
import Models
import SafeTensors
import TensorEngine
import TestSupport
import XCTest

/// The ViT against Hugging Face's Dinov2Model (scripts/make_vit_fixtures.py): a randomly initialised checkpoint
/// saved by transformers loads by its parameter names and gives the same outputs and gradients.
final class ViTFixtureTests: XCTestCase {
    let folder = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/vit-tiny")

    func testForwardMatchesDinov2ModelAtNativeSize() throws {
        let fixture = try loadFixture("vit_tiny.safetensors", in: .module)
        let model = try VisionTransformer.load(folder)
        XCTAssertEqual(model.config, ViTConfig(hiddenSize: 32, layers: 2, heads: 4, mlpRatio: 2, patchSize: 4, imageSize: 16, layerScaleInit: 0.5))
        let pixels = try fixture.tensor("native.pixels")
        let out = withoutGrad { model(pixels: pixels.scalars, batch: 2, height: 16, width: 16) }
        assertClose(out, try fixture.tensor("native.output"), "native output", atol: 2e-5, rtol: 1e-4)
    }

    func testInterpolatedMaskedForwardAndEveryGradient() throws {
        let fixture = try loadFixture("vit_tiny.safetensors", in: .module)
        let model = try VisionTransformer.load(folder)
        let mask = try fixture.floats("odd.mask").map { $0 > 0.5 }
        let out = model(pixels: try fixture.floats("odd.pixels"), batch: 2, height: 14, width: 21, masked: mask)
        assertClose(out, try fixture.tensor("odd.output"), "interpolated masked output", atol: 2e-5, rtol: 1e-4)
        (out * (try fixture.tensor("odd.seed"))).sum().backward()
        for (name, parameter) in model.namedParameters {
            assertClose(parameter.grad, try fixture.tensor("grad.\(name)"), "d/d \(name)", atol: 1e-4, rtol: 1e-3)
        }
    }

    func testBicubicMatrixMatchesTorchInterpolate() throws {
        let fixture = try loadFixture("vit_tiny.safetensors", in: .module)
        for size in [3, 5, 7] {
            let ours = Tensor(shape: [size, 4], scalars: VisionTransformer.bicubicMatrix(from: 4, to: size))
            assertClose(ours, try fixture.tensor("bicubic.4to\(size)"), "bicubic 4→\(size)", atol: 1e-6, rtol: 1e-6)
        }
        // identity at the same size, rows summing to 1 in general
        XCTAssertEqual(VisionTransformer.bicubicMatrix(from: 4, to: 4), [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])
    }

    /// The vectorised erf GELU the ViT uses against libm's (forward and gradient).
    func testFastGELUMatchesExact() {
        var rng = SeededGenerator(seed: 4)
        let values = (0..<4096).map { _ in rng.normal(std: 3) }
        let a = Tensor(shape: [4096], scalars: values, requiresGrad: true), b = Tensor(shape: [4096], scalars: values, requiresGrad: true)
        let fast = a.geluErf(), exact = b.geluExact()
        assertClose(fast, exact, "geluErf forward", atol: 1e-6, rtol: 0)
        fast.sum().backward(); exact.sum().backward()
        assertClose(a.grad, b.grad!, "geluErf gradient", atol: 1e-6, rtol: 0)
    }

    /// The patchify + product path against a direct strided convolution (the naive reference).
    func testPatchEmbeddingEqualsConvolution() {
        var rng = SeededGenerator(seed: 1)
        let (b, h, w, p, d) = (2, 8, 12, 4, 5)
        let pixels = (0..<(b * 3 * h * w)).map { _ in rng.normal() }
        let weight = (0..<(d * 3 * p * p)).map { _ in rng.normal() }
        let patches = VisionTransformer.patchify(pixels, batch: b, height: h, width: w, patch: p)
        let product = matmul(Tensor(shape: [b * 6, 3 * p * p], scalars: patches), Tensor(shape: [d, 3 * p * p], scalars: weight), transposeB: true)
        for img in 0..<b { for i in 0..<2 { for j in 0..<3 { for o in 0..<d {
            var acc: Float = 0
            for c in 0..<3 { for y in 0..<p { for x in 0..<p {
                acc += weight[((o * 3 + c) * p + y) * p + x] * pixels[((img * 3 + c) * h + i * p + y) * w + j * p + x]
            } } }
            XCTAssertEqual(product[flat: ((img * 2 + i) * 3 + j) * d + o], acc, accuracy: 1e-4)
        } } } }
    }

    func testSaveLoadRoundTripAndTransformers5Names() throws {
        let model = try VisionTransformer.load(folder)
        let dir = try temporaryDirectory(self)
        try model.save(to: dir.appendingPathComponent("copy"))
        let again = try VisionTransformer.load(dir.appendingPathComponent("copy"))
        for ((name, a), (_, b)) in zip(model.namedParameters, again.namedParameters) { XCTAssertEqual(a.scalars, b.scalars, name) }
        // the same weights under transformers 5's names and a task-model prefix
        let original = try SafeTensors.read(contentsOf: folder.appendingPathComponent("model.safetensors"))
        var renamed = SafeTensors()
        for name in original.names {
            let v5 = name.replacingOccurrences(of: "attention.attention.query.", with: "attention.q_proj.")
                .replacingOccurrences(of: "attention.attention.key.", with: "attention.k_proj.")
                .replacingOccurrences(of: "attention.attention.value.", with: "attention.v_proj.")
                .replacingOccurrences(of: "attention.output.dense.", with: "attention.o_proj.")
            renamed.add("dinov2." + v5, try original.tensor(name))
        }
        let fresh = VisionTransformer(config: model.config, seed: 9)
        try fresh.assign(from: renamed, path: "renamed")
        for ((name, a), (_, b)) in zip(model.namedParameters, fresh.namedParameters) { XCTAssertEqual(a.scalars, b.scalars, name) }
        var short = renamed
        short.remove("dinov2.layernorm.bias")
        assertThrowsError(try fresh.assign(from: short, path: "short.safetensors"), containing: "short.safetensors: missing tensor dinov2.layernorm.bias")
    }
}

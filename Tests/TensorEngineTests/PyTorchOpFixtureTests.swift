import SafeTensors
import TensorEngine
import TestSupport
import XCTest

/// Every primitive and composite against PyTorch 2.13 (fixtures from scripts/make_fixtures.py):
/// forward output, then the gradient of sum(out · dout) with respect to every float input.
final class PyTorchOpFixtureTests: XCTestCase {
    /// Case name → how our engine computes `out` from the fixture's inputs (float inputs require grad).
    typealias Computation = @Sendable (_ f: SafeTensors, _ input: (String) throws -> Tensor) throws -> Tensor

    static let cases: [String: Computation] = [
        "matmul": { _, x in matmul(try x("x"), try x("y")) },
        "matmul_ta": { _, x in matmul(try x("x"), try x("y"), transposeA: true) },
        "matmul_tb": { _, x in matmul(try x("x"), try x("y"), transposeB: true) },
        "matmul_tatb": { _, x in matmul(try x("x"), try x("y"), transposeA: true, transposeB: true) },
        "bmm": { _, x in matmul(try x("x"), try x("y")) },
        "bmm_tb": { _, x in matmul(try x("x"), try x("y"), transposeB: true) },
        "bmm_rhs2d": { _, x in matmul(try x("x"), try x("y")) },
        "add_bcast": { _, x in try x("x") + x("y") },
        "sub_bcast": { _, x in try x("x") - x("y") },
        "mul_bcast": { _, x in try x("x") * x("y") },
        "div_bcast": { _, x in try x("x") / x("y") },
        "scalar_ops": { _, x in (try x("x") * 2.5 + 1.0) / 4.0 - 0.5 },
        "sum_axis1": { _, x in try x("x").sum(axis: 1) },
        "sum_axis2_keep": { _, x in try x("x").sum(axis: 2, keepDim: true) },
        "mean_axis0": { _, x in try x("x").mean(axis: 0) },
        "max_axis2": { _, x in try x("x").max(axis: 2) },
        "sum_all": { _, x in try x("x").sum() },
        "exp": { _, x in try x("x").exp() },
        "log": { _, x in try x("x").log() },
        "sqrt": { _, x in try x("x").sqrt() },
        "rsqrt": { _, x in try x("x").rsqrt() },
        "tanh": { _, x in try x("x").tanh() },
        "relu": { _, x in try x("x").relu() },
        "neg": { _, x in -(try x("x")) },
        "square": { _, x in try x("x").square() },
        "gelu_tanh": { _, x in try x("x").geluTanh() },
        "gelu_exact": { _, x in try x("x").geluExact() },
        "gated_gelu": { _, x in gatedGELU(try x("a"), try x("b")) },
        "softmax_mask": { f, x in try x("x").softmax(mask: try f.tensor("mask")) },
        "log_softmax_mask": { f, x in try x("x").logSoftmax(mask: try f.tensor("mask")) },
        "softmax_plain": { _, x in try x("x").softmax() },
        "layer_norm": { _, x in try x("x").layerNorm(weight: x("w"), bias: x("b"), eps: 1e-5) },
        "rms_norm": { _, x in try x("x").rmsNorm(weight: x("w"), eps: 1e-6) },
        "embedding": { f, x in
            embedding(try x("table"), indices: try f.indices("idx"), indexShape: try f.shape("idx")) },
        "concat": { _, x in concat([try x("x"), try x("y")], axis: 1) },
        "slice": { _, x in try x("x").slice(axis: 1, start: 1, end: 4) },
        "index_select": { f, x in try x("x").indexSelect(axis: 1, try f.indices("idx")) },
        "permute": { _, x in try x("x").permuted([2, 0, 1]) },
        "reshape": { _, x in try x("x").reshaped([6, 4]) },
        "l2_normalize": { _, x in try x("x").l2Normalized() },
        "sq_dist": { _, x in squaredDistances(try x("x"), try x("c")) },
        "cross_entropy": { f, x in crossEntropy(try x("logits"), targets: try f.indices("target")) },
        "cross_entropy_allowed": { f, x in
            let mask = try f.tensor("allowed")
            let classes = mask.shape[1]
            let rows = (0..<mask.shape[0]).map { r in (0..<classes).filter { mask[flat: r * classes + $0] > 0.5 }.map(Int32.init) }
            return crossEntropy(try x("logits"), targets: try f.indices("target"), allowed: AllowedClasses(rows: rows))
        },
        "bce_logits": { f, x in binaryCrossEntropyWithLogits(try x("x"), targets: try f.tensor("t")) },
        "detach_mix": { _, x in let v = try x("x"); return v * v.detached() },
    ]

    /// Reference composites checked against the same fixture as the fused primitive they back.
    static let composites: [(fixture: String, compute: Computation)] = [
        ("gated_gelu", { _, x in gatedGELUComposite(try x("a"), try x("b")) }),
    ]

    /// Inputs that are constants in the reference (they get no gradient there either).
    static let constants: Set<String> = ["mask", "allowed", "t", "idx", "target"]

    func testEveryOpMatchesPyTorch() throws {
        let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/ops")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".safetensors") }
        let names = Set(files.map { String($0.dropLast(".safetensors".count)) })
        XCTAssertEqual(names, Set(Self.cases.keys), "fixture cases and Swift cases must be the same set")
        for name in names.sorted() {
            guard let compute = Self.cases[name] else { continue }
            try check(name, compute)
        }
        for (fixture, compute) in Self.composites { try check(fixture, compute) }
    }

    private func check(_ name: String, _ compute: Computation) throws {
        let f = try loadFixture("ops/\(name).safetensors")
        var leaves: [String: Tensor] = [:]
        let input: (String) throws -> Tensor = { key in
            if let t = leaves[key] { return t }
            let t = try f.tensor(key, requiresGrad: !Self.constants.contains(key))
            leaves[key] = t
            return t
        }
        let out = try compute(f, input)
        assertClose(out, try f.tensor("out"), "\(name).out")
        out.backward(seed: try f.tensor("dout"))
        let gradNames = f.names.filter { $0.hasPrefix("grad.") }
        XCTAssertFalse(gradNames.isEmpty, "\(name): fixture has no gradients")
        for gradName in gradNames {
            let key = String(gradName.dropFirst("grad.".count))
            assertClose(leaves[key]?.grad ?? (leaves[key].map { Tensor.zeros($0.shape) }), try f.tensor(gradName), "\(name).\(gradName)")
        }
    }
}

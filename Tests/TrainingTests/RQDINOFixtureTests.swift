import Foundation
import Models
import Quantization
import SafeTensors
import TensorEngine
import TestSupport
import Training
import XCTest

/// RQ-DINO's losses and one full student step against scripts/rqdino_reference.py (DINOv2's code, HF Dinov2Model).
final class RQDINOFixtureTests: XCTestCase {
    func fixture(_ name: String) throws -> SafeTensors { try loadFixture(name, in: .module) }

    func testDINOLossWithCentringAndSharpening() throws {
        let f = try fixture("rqdino_losses.safetensors")
        let targets = DINOLosses.centeredSoftmax(try f.tensor("dino.teacher_logits"), center: try f.floats("dino.center"), temperature: 0.05)
        assertClose(targets, try f.tensor("dino.targets"), "centred, sharpened teacher targets", atol: 1e-6)
        let global = try f.tensor("dino.student_global", requiresGrad: true), local = try f.tensor("dino.student_local", requiresGrad: true)
        let loss = DINOLosses.dino(studentGlobal: global, studentLocal: local, teacherGlobal: targets, batch: 4, localCrops: 2, temperature: 0.1)
        XCTAssertEqual(loss.item, try f.floats("dino.loss")[0], accuracy: 1e-4)
        loss.backward()
        assertClose(global.grad, try f.tensor("dino.grad_global"), "d dino / d student global", atol: 1e-6)
        assertClose(local.grad, try f.tensor("dino.grad_local"), "d dino / d student local", atol: 1e-6)
    }

    func testIBOTLoss() throws {
        let f = try fixture("rqdino_losses.safetensors")
        let student = try f.tensor("ibot.student", requiresGrad: true)
        let loss = DINOLosses.ibot(student: student, teacher: try f.tensor("ibot.teacher"), weights: try f.floats("ibot.weights"), images: 6, temperature: 0.1)
        XCTAssertEqual(loss.item, try f.floats("ibot.loss")[0], accuracy: 1e-4)
        loss.backward()
        assertClose(student.grad, try f.tensor("ibot.grad"), "d ibot / d student", atol: 1e-6)
    }

    func testKoLeo() throws {
        let f = try fixture("rqdino_losses.safetensors")
        let x = try f.tensor("koleo.x", requiresGrad: true)
        let loss = DINOLosses.koleo(x)
        XCTAssertEqual(loss.item, try f.floats("koleo.loss")[0], accuracy: 1e-5)
        loss.backward()
        assertClose(x.grad, try f.tensor("koleo.grad"), "d koleo / d x", atol: 1e-5, rtol: 1e-4)
    }

    func quantizer(_ f: SafeTensors, prefix: String, size: Int, dimension: Int) throws -> EMAResidualQuantizer {
        let q = EMAResidualQuantizer(options: .init(levels: 2, codebookSize: size, decay: 0.9, deadCodeThreshold: 0), dimension: dimension)
        try q.restore { name in
            let key = name.replacingOccurrences(of: "quantizer.", with: prefix)
            return f.names.contains(key) ? try f.floats(key) : nil
        }
        return q
    }

    func testStraightThroughQuantizationAndEMAUpdate() throws {
        let f = try fixture("rqdino_losses.safetensors")
        let q = try quantizer(f, prefix: "rq.", size: 5, dimension: 6)
        let z = try f.tensor("rq.z", requiresGrad: true)
        let out = q(z)
        XCTAssertEqual(out.codes, try f.floats("rq.codes").map { Int32($0) })
        XCTAssertEqual(q.nearestNaive(z.scalars, level: 0), (0..<10).map { out.codes[$0 * 2] }, "sgemm search vs naive search")
        assertClose(out.quantized, try f.tensor("rq.quantized"), "ẑ (straight-through value)", atol: 1e-5)
        XCTAssertEqual(out.commitment.item, try f.floats("rq.commitment")[0], accuracy: 1e-5)
        ((out.quantized * (try f.tensor("rq.seed"))).sum() + out.commitment).backward()
        assertClose(z.grad, try f.tensor("rq.grad"), "d(Σ ẑ⊙R + commit)/dz: identity through ẑ plus the commitment pull", atol: 1e-5)
        var rng = SeededGenerator(seed: 1)
        q.update(codes: out.codes, residuals: out.residuals, using: &rng)
        assertClose(q.codebooks[0], try f.tensor("rq.updated.0"), "EMA codebook 0", atol: 1e-5)
        assertClose(q.codebooks[1], try f.tensor("rq.updated.1"), "EMA codebook 1", atol: 1e-5)
    }

    func testDeadCodesAreReseededFromTheBatch() {
        let q = EMAResidualQuantizer(options: .init(levels: 1, codebookSize: 4, decay: 0.5, deadCodeThreshold: 0.5), dimension: 2)
        var rng = SeededGenerator(seed: 3)
        let z = Tensor(shape: [6, 2], scalars: [0, 0, 0.1, 0, 5, 5, 5.1, 5, 9, 9, 9.2, 9])
        q.initialize(from: z, using: &rng)
        // all rows near code of (0,0) from now on: the other codes die and come back at batch residuals
        let near = Tensor(shape: [4, 2], scalars: [0, 0.01, 0.02, 0, 0, 0.03, 0.01, 0.01])
        for _ in 0..<6 { let o = q(near); q.update(codes: o.codes, residuals: o.residuals, using: &rng) }
        for code in 0..<4 { XCTAssertLessThan(abs(q.codebooks[0][flat: code * 2]) + abs(q.codebooks[0][flat: code * 2 + 1]), 0.1, "code \(code)") }
    }

    func testOneFullStudentStep() throws {
        let f = try fixture("rqdino_step.safetensors")
        var config = RQDINOConfig(vit: ViTConfig(hiddenSize: 16, layers: 2, heads: 2, mlpRatio: 2, patchSize: 4, imageSize: 12, layerScaleInit: 0.5),
                                  globalSize: 12, localSize: 8)
        config.headHidden = 12; config.headBottleneck = 8; config.prototypes = 20; config.localCrops = 2
        config.quantizer = .init(levels: 2, codebookSize: 8, decay: 0.9, deadCodeThreshold: 0)
        let model = RQDINOModel(config: config, seed: 0)
        for (name, tensor) in model.studentParameters + model.teacherParameters {
            let values = try f.floats(name)
            tensor.data.update(from: values, count: values.count)
        }
        try model.quantizer!.restore { name in
            name.hasPrefix("quantizer.codebook.") ? try f.floats(name.replacingOccurrences(of: "quantizer.", with: "")) : nil
        }
        model.dinoCenter = try f.floats("dino_center")
        model.ibotCenter = try f.floats("ibot_center")
        let batch = RQDINOBatch(images: 3, global: try f.floats("global"), local: try f.floats("local"), masks: try f.floats("masks").map { $0 > 0.5 })
        let (loss, terms, statistics) = model.loss(batch, teacherTemperature: 0.05)
        let expected = try JSONSerialization.jsonObject(with: Data(f.metadata["terms"]!.utf8)) as! [String: Double]
        XCTAssertEqual(terms.dino, expected["dino"]!, accuracy: 1e-4)
        XCTAssertEqual(terms.ibot, expected["ibot"]!, accuracy: 1e-4)
        XCTAssertEqual(terms.koleo, expected["koleo"]!, accuracy: 1e-4)
        XCTAssertEqual(terms.commitment, expected["commitment"]!, accuracy: 1e-4)
        XCTAssertEqual(terms.total, expected["total"]!, accuracy: 1e-4)
        XCTAssertEqual(statistics.quantized?.codes, try f.floats("codes").map { Int32($0) })
        assertClose(Tensor(shape: [20], scalars: statistics.teacherCLSMean), try f.tensor("teacher_cls_mean"), "teacher CLS logits mean (centre update)", atol: 1e-5)
        assertClose(Tensor(shape: [20], scalars: statistics.teacherPatchMean!), try f.tensor("teacher_patch_mean"), "teacher patch logits mean", atol: 1e-5)
        loss.backward()
        for (name, tensor) in model.studentParameters {
            assertClose(tensor.grad, try f.tensor("grad." + name), "d loss / d \(name)", atol: 2e-5, rtol: 2e-3)
        }
        // The teacher got no gradient and moves only by EMA.
        XCTAssertTrue(model.teacherParameters.allSatisfy { $0.1.grad == nil })
        let before = model.teacherParameters[0].1.scalars, student = model.studentParameters[0].1.scalars
        model.updateTeacher(momentum: 0.75)
        for i in 0..<before.count { XCTAssertEqual(model.teacherParameters[0].1[flat: i], 0.75 * before[i] + 0.25 * student[i], accuracy: 1e-6) }
    }
}

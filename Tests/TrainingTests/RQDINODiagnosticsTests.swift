import Foundation
import Images
import Models
import TensorEngine
import TestSupport
@testable import Training
import XCTest

/// Issue 15's findings as checks: the diagnostics' statistics on hand-computed values, the teacher's EMA horizon
/// of the recipes at the README's run length, and what each recipe sets.
final class RQDINODiagnosticsTests: XCTestCase {
    func testStatisticsAgainstHandComputedValues() {
        // rows (1,0), (0,1), (1,1): cosines 0, 1/√2, 1/√2 → mean over the ordered pairs √2/3
        XCTAssertEqual(RQDINODiagnostics.meanOffDiagonalCosine([1, 0, 0, 1, 1, 1], rows: 3), 2.0.squareRoot() / 3, accuracy: 1e-6)
        // rows (½, ½) and (1, 0): entropies ln 2 and 0; their mean row (¾, ¼)
        let (rows, mean) = RQDINODiagnostics.entropies([0.5, 0.5, 1, 0], rows: 2)
        XCTAssertEqual(rows, Foundation.log(2.0) / 2, accuracy: 1e-7)
        XCTAssertEqual(mean, -(0.75 * Foundation.log(0.75) + 0.25 * Foundation.log(0.25)), accuracy: 1e-7)
        // columns (1, 3) and (2, 2): standard deviations 1 and 0
        XCTAssertEqual(RQDINODiagnostics.columnSpread([1, 2, 3, 2], rows: 2), 0.5, accuracy: 1e-7)
    }

    /// 10,000 images × 4 epochs at batch 64 is 624 steps. The momentum the CLI used to default to (0.9995) leaves
    /// 85% of the random initialisation in the teacher at the end — the teacher never learns, its outputs stay the
    /// same for every image and the DINO loss stays at ln K; both recipes' 0.992 leaves 8%.
    func testTeacherHorizonFitsTheRun() {
        var old = RQDINOSchedules(totalSteps: 624)
        old.momentumStart = 0.9995
        XCTAssertEqual(old.initialTeacherShare, Foundation.exp(-624 * 0.0005 / 2), accuracy: 0.01)
        XCTAssertGreaterThan(old.initialTeacherShare, 0.8)
        for recipe in RQDINORecipe.allCases {
            var config = RQDINOConfig.cpuDefault, options = RQDINOOptions()
            recipe.apply(to: &config, &options)
            var s = RQDINOSchedules(totalSteps: 624)
            s.momentumStart = options.momentumStart
            XCTAssertEqual(s.initialTeacherShare, Foundation.exp(-624 * 0.008 / 2), accuracy: 0.01, recipe.rawValue)
            XCTAssertLessThan(s.initialTeacherShare, 0.1, recipe.rawValue)
        }
    }

    func testRecipes() {
        var config = RQDINOConfig.cpuDefault, options = RQDINOOptions()
        RQDINORecipe.fromScratch.apply(to: &config, &options)
        XCTAssertTrue(config.headBatchCentring)
        XCTAssertEqual(options.teacherTemperature, 0.04)
        XCTAssertEqual(options.freezeLastLayerEpochs, 0)
        RQDINORecipe.dinov2.apply(to: &config, &options)
        XCTAssertFalse(config.headBatchCentring)
        XCTAssertEqual(options.teacherTemperature, 0.07)
        XCTAssertEqual(options.freezeLastLayerEpochs, 1)
        // encoder files written before the field existed still load, with the field off
        let data = try! JSONEncoder().encode(RQDINOConfig.cpuDefault)
        var object = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
        object["headBatchCentring"] = nil
        let old = try! JSONDecoder().decode(RQDINOConfig.self, from: try! JSONSerialization.data(withJSONObject: object))
        XCTAssertEqual(old, RQDINOConfig.cpuDefault)
    }

    /// The cause of issue 15 at the CPU default's shapes, no training needed: a randomly initialised ViT and head give
    /// 32 different pictures (each a random rectangle of random colour on white, like catalogue photos) nearly the
    /// same output, so once the centre holds the batch's mean logits the teacher's targets are uniform (entropy at
    /// ln K) and the DINO loss can only sit there; centring the bottleneck over the batch keeps the differences.
    func testRandomTeacherTargetsAreUniformUnlessTheBottleneckIsCentred() {
        var rng = SeededGenerator(seed: 5)
        let size = RQDINOConfig.cpuDefault.globalSize, n = 32
        let pictures: [RGBImage] = (0..<n).map { _ in
            var p = [UInt8](repeating: 255, count: size * size * 3)
            let (x0, y0) = (rng.index(size / 2), rng.index(size / 2)), (w, h) = (8 + rng.index(size / 2), 8 + rng.index(size / 2))
            let colour = (0..<3).map { _ in UInt8(rng.index(256)) }
            for y in y0..<min(size, y0 + h) { for x in x0..<min(size, x0 + w) { for c in 0..<3 { p[(y * size + x) * 3 + c] = colour[c] } } }
            return RGBImage(width: size, height: size, pixels: p)
        }
        let global = pictures.flatMap { Resampling.square($0, size: size).normalized() }
        let batch = RQDINOBatch(images: n, global: global + global, local: [], masks: [Bool](repeating: false, count: 2 * n * 49))
        var entropy: [Bool: Double] = [:], spread: [Bool: Double] = [:]
        for centring in [false, true] {
            var config = RQDINOConfig.cpuDefault
            config.headBatchCentring = centring
            config.quantizer = nil
            let model = RQDINOModel(config: config, seed: 0)
            model.dinoCenter = withoutGrad {
                model.teacherHead(RQDINOModel.embed(model.teacher, pixels: global, images: n, size: size)).mean(axis: 0).scalars
            }
            let d = model.diagnose(batch, teacherTemperature: 0.04)
            entropy[centring] = d.teacherEntropy
            spread[centring] = d.teacherLogitSpread
            XCTAssertGreaterThan(d.teacherBackboneCosine, 0.9, "a random ViT's CLS embeddings are nearly parallel")
        }
        let lnK = Foundation.log(Double(RQDINOConfig.cpuDefault.prototypes))
        XCTAssertGreaterThan(entropy[false]!, lnK - 0.3, "DINOv2's head: near-uniform targets")
        XCTAssertLessThan(spread[false]!, 0.03)
        XCTAssertLessThan(entropy[true]!, lnK - 2, "centred bottleneck: targets that tell images apart")
        XCTAssertGreaterThan(spread[true]!, 0.08)
    }
}

import ItemCodes
import Foundation
import Models
import MSCCore
import TensorEngine
@testable import Training
import XCTest

/// `SASRecTeacher`: a SASRec's next-item distribution carried onto the target modality's prefix tree, checked against
/// sums over items written out here, and distillation's wiring into the trainer and its config.
final class SASRecTeacherTests: XCTestCase {
    /// 40 items with collaborative codes of two random levels of 4 plus a collision level; items 5 and 17 lack them.
    private func catalog() throws -> (items: ItemTokens, tree: PrefixTree, paths: [[Int32]]) {
        let n = 40
        var codes: [Int32] = [], paths: [[Int32]] = [], seen: [Int32: Int32] = [:], rng = SeededGenerator(seed: 8)
        for _ in 0..<n {
            let prefix = (Int32(rng.index(4)), Int32(rng.index(4)))
            let collision = seen[prefix.0 * 4 + prefix.1, default: 0]
            seen[prefix.0 * 4 + prefix.1] = collision + 1
            codes += [prefix.0, prefix.1, collision]; paths.append([prefix.0, prefix.1, collision])
        }
        let present = (0..<n).map { $0 != 5 && $0 != 17 }
        let config = MSCGRecConfig(modalities: [.init(name: "collaborative", codebookSizes: [4, 4, 16])], targetModality: "collaborative",
                                   maxHistory: 4, transformer: TransformerConfig(dModel: 16, heads: 2, headDim: 8, dFF: 32, encoderLayers: 1,
                                                                                 decoderLayers: 1, positionBuckets: 8, maxDistance: 16, dropout: 0),
                                   itemBuckets: 4)
        let items = try ItemTokens(layout: TokenLayout(config), modalities: [(codes, present)])
        let tree = try PrefixTree(codes: codes, depth: 3, codebookSizes: [4, 4, 16], present: present)
        return (items, tree, paths)
    }

    func testLevelDistributionsAreTheTeachersMassUnderEachChildAndMultiplyToItsProbability() throws {
        for excludeHistory in [true, false] {
            for ensemble in [1, 2] { try checkLevelDistributions(excludeHistory: excludeHistory, models: ensemble) }
        }
    }

    /// With `excludeHistory`, p is renormalised over the items outside the history (the target always counts; the last
    /// history below repeats its target, 12). Two models: p is the mean of their softmaxes over the items with codes,
    /// renormalised over the same items.
    private func checkLevelDistributions(excludeHistory: Bool, models: Int) throws {
        let (items, tree, paths) = try catalog()
        let sasrecs = (0..<models).map { SASRec(SASRecConfig(items: 40, dim: 16, layers: 1, heads: 2, maxLength: 6, dropout: 0), seed: 3 + UInt64($0)) }
        let teacher = try SASRecTeacher(models: sasrecs, items: items)
        let histories: [ArraySlice<Int32>] = [[1, 2, 3], [9], [30, 31, 32, 33, 34, 35, 36, 37], [0, 5, 12]]
        let targets: [Int32] = [4, 6, 39, 12]
        let temperature: Float = 0.7
        let options = DistillationOptions(weight: 0.25, temperature: temperature, excludeHistory: excludeHistory)
        let soft = teacher.targets(histories: histories, targets: targets, options: options).soft
        XCTAssertEqual(soft.rowCount, targets.count * 3)
        XCTAssertEqual(soft.mix, 0.25)
        let allowed = tree.allowedClasses(targets: targets.map { paths[Int($0)] }, classOffsets: items.layout.classOffsets)
        let scores = teacher.itemScores(histories)
        XCTAssertEqual(scores.count, models)
        for (r, target) in targets.enumerated() {
            // Each model: softmax of s_i / T over the items that have the target modality; p ∝ their sum outside the
            // excluded items.
            let mixture = scores.map { scores in
                let s = (0..<40).map { Double(scores[flat: r * 40 + $0]) }
                let z = (0..<40).filter { items.hasTarget[$0] }.map { exp(s[$0] / Double(temperature)) }.reduce(0, +)
                return s.map { exp($0 / Double(temperature)) / z }
            }.reduce([Double](repeating: 0, count: 40)) { zip($0, $1).map(+) }
            let excluded = excludeHistory ? Set(histories[r].map(Int.init)).subtracting([Int(target)]) : []
            let withCodes = (0..<40).filter { items.hasTarget[$0] && !excluded.contains($0) }
            let z = withCodes.map { mixture[$0] }.reduce(0, +)
            let p = { (i: Int) in mixture[i] / z }
            var product = 1.0
            for level in 0..<3 {
                let row = r * 3 + level
                let range = Int(soft.offsets[row])..<Int(soft.offsets[row + 1])
                XCTAssertTrue(Set(soft.classes[range]).isSubset(of: Set(allowed.row(row))), "row \(row): the teacher's classes are eq. 6's children")
                if !excludeHistory { XCTAssertEqual(Set(soft.classes[range]), Set(allowed.row(row)), "row \(row): every child has mass") }
                let under = withCodes.filter { Array(paths[$0].prefix(level)) == Array(paths[Int(target)].prefix(level)) }
                let mass = under.map(p).reduce(0, +)
                for k in range {
                    let code = soft.classes[k] - items.layout.classOffsets[level]
                    let expected = under.filter { paths[$0][level] == code }.map(p).reduce(0, +) / mass
                    XCTAssertEqual(Double(soft.weights[k]), expected, accuracy: 1e-5, "row \(row), code \(code)")
                    if code == paths[Int(target)][level] { product *= Double(soft.weights[k]) }
                }
            }
            XCTAssertEqual(product, p(Int(target)), accuracy: 1e-5 * max(1, p(Int(target))), "Π q_l along the path is p(target)")
        }
    }

    func testTheTeacherMustKnowTheCatalogsItems() throws {
        let (items, _, _) = try catalog()
        let other = SASRec(SASRecConfig(items: 39, dim: 16, layers: 1, heads: 2, maxLength: 6), seed: 3)
        XCTAssertThrowsError(try SASRecTeacher(model: other, items: items)) {
            XCTAssertTrue("\($0)".contains("39 items"), "\($0)")
        }
    }

    func testDistillationNeedsATeacherAndATeacherNeedsDistillation() throws {
        let plain = try MSCGRecTrainingTests.setup(epochs: 1)
        var options = plain.options
        options.distillation = DistillationOptions()
        XCTAssertThrowsError(try MSCGRecTrainer(dataset: plain.dataset, config: plain.config, items: plain.items, tree: plain.tree, options: options)) {
            XCTAssertTrue("\($0)".contains("needs a teacher"), "\($0)")
        }
        let teacher = try SASRecTeacher(model: SASRec(SASRecConfig(items: 60, dim: 16, layers: 1, heads: 2, maxLength: 8), seed: 1), items: plain.items)
        XCTAssertThrowsError(try MSCGRecTrainer(dataset: plain.dataset, config: plain.config, items: plain.items, tree: plain.tree,
                                                options: plain.options, teacher: teacher)) {
            XCTAssertTrue("\($0)".contains("not set"), "\($0)")
        }
    }

    /// With a SASRec trained on the ring as teacher: the student distilled with weight 1 matches the teacher's level
    /// distributions on validation histories better than the hard-target student does (and both learn); with weight 0
    /// the run is the hard-target run exactly.
    func testDistilledTrainingFollowsTheTeacherAndZeroWeightIsTheHardTargetRun() throws {
        let plain = try MSCGRecTrainingTests.setup(epochs: 2)
        let sasrecConfig = SASRecConfig(items: 60, dim: 16, layers: 1, heads: 2, maxLength: 8, dropout: 0)
        var sasrecOptions = SASRecTrainingOptions()
        sasrecOptions.epochs = 20; sasrecOptions.learningRate = 5e-3
        let sasrec = try SASRecTrainer(dataset: plain.dataset, config: sasrecConfig, options: sasrecOptions).train().model
        let teacher = try SASRecTeacher(model: sasrec, items: plain.items)
        func distilled(_ weight: Float) throws -> MSCGRecTrainer {
            var options = plain.options
            options.distillation = DistillationOptions(weight: weight)
            return try MSCGRecTrainer(dataset: plain.dataset, config: plain.config, items: plain.items, tree: plain.tree,
                                      options: options, teacher: teacher)
        }
        /// Mean cross-entropy of the student's constrained rows against the teacher's q_l (validation examples of
        /// history length 4, one unpadded batch).
        func crossEntropyToTeacher(_ trainer: MSCGRecTrainer) -> Float {
            let examples = trainer.validation.filter { $0.length >= trainer.config.maxHistory }
            var rng = SeededGenerator(seed: 0)
            let batch = trainer.items.batch(histories: examples.map(trainer.history), targets: examples.map(trainer.target),
                                            maxHistory: trainer.config.maxHistory, rng: &rng)
            let soft = teacher.targets(histories: examples.map(trainer.history), targets: examples.map(trainer.target),
                                           options: DistillationOptions(weight: 1)).soft
            return withoutGrad { crossEntropy(trainer.model.logits(batch), targets: batch.labels, allowed: trainer.allowedClasses(batch), soft: soft).item }
        }
        let start = plain.validationLoss()
        let full = try distilled(1)
        XCTAssertEqual(crossEntropyToTeacher(full), crossEntropyToTeacher(plain), "both start from the same weights")
        _ = try plain.train(); _ = try full.train()
        XCTAssertLessThan(crossEntropyToTeacher(full), crossEntropyToTeacher(plain), "distilled vs hard-target student, against the teacher")
        // Taught by the teacher alone, the student's hard-target loss falls as far as this 20-epoch SASRec knows the ring.
        XCTAssertLessThan(full.validationLoss(), 0.85 * start, "the distilled student learns the ring too: \(start) → \(full.validationLoss())")
        XCTAssertLessThan(plain.validationLoss(), 0.7 * start)

        // With the teacher's next item decoded too, training still follows the teacher (the rows it adds are its own).
        var withPaths = plain.options
        withPaths.distillation = DistillationOptions(weight: 1, extraPaths: 2)
        let paths = try MSCGRecTrainer(dataset: plain.dataset, config: plain.config, items: plain.items, tree: plain.tree,
                                       options: withPaths, teacher: teacher)
        _ = try paths.train()
        XCTAssertLessThan(crossEntropyToTeacher(paths), crossEntropyToTeacher(plain), "extra paths vs hard-target student, against the teacher")

        let zero = try distilled(0)
        _ = try zero.train()
        XCTAssertEqual(zero.validationLoss(), plain.validationLoss(), accuracy: 1e-9)
    }

    /// `extraPaths`: the teacher's most probable other items (outside the history), ranked by its scores here; their
    /// rows follow the targets' and are what the teacher gives along their own paths, empty where the prefix is the
    /// target's.
    func testExtraPathsAreTheTeachersNextItemsWithTheirOwnRowsBeyondTheSharedPrefix() throws {
        let (items, _, paths) = try catalog()
        let sasrec = SASRec(SASRecConfig(items: 40, dim: 16, layers: 1, heads: 2, maxLength: 6, dropout: 0), seed: 3)
        let teacher = try SASRecTeacher(model: sasrec, items: items)
        let histories: [ArraySlice<Int32>] = [[1, 2, 3], [9], [30, 31, 32, 33, 34, 35, 36, 37], [0, 5, 12]]
        let targets: [Int32] = [4, 6, 39, 11]
        let plain = teacher.targets(histories: histories, targets: targets, options: DistillationOptions(weight: 0.6))
        XCTAssertEqual(plain.extraPaths, [])
        let taught = teacher.targets(histories: histories, targets: targets, options: DistillationOptions(weight: 0.6, extraPaths: 3))
        XCTAssertEqual(taught.extraPaths.count, 3 * targets.count)
        XCTAssertEqual(taught.soft.rowCount, targets.count * 3 + 3 * targets.count * 3)
        XCTAssertEqual(Array(taught.soft.offsets.prefix(13)), plain.soft.offsets, "the targets' rows come first, unchanged")
        XCTAssertEqual(Array(taught.soft.weights.prefix(plain.soft.weights.count)), plain.soft.weights)
        let scores = teacher.itemScores(histories)[0]
        var shared = 0
        for (k, path) in taught.extraPaths.enumerated() {
            let r = path.example, target = Int(targets[r])
            XCTAssertEqual(r, k / 3)
            let candidates = (0..<40).filter { items.hasTarget[$0] && $0 != target && !histories[r].contains(Int32($0)) }
            let ranked = candidates.sorted { scores[flat: r * 40 + $0] > scores[flat: r * 40 + $1] }
            XCTAssertEqual(Int(path.item), ranked[k % 3], "example \(r): the teacher's next items, most probable first")
            let first = (0..<3).first { paths[Int(path.item)][$0] != paths[target][$0] }!
            XCTAssertEqual(path.firstNewLevel, first + 1)
            shared += first
            // Beyond the shared prefix, the rows are the teacher's along the item's path, as if it were the target.
            // (Same batch: SASRec's positions count from its left-padded window.)
            var asTarget = targets
            asTarget[r] = path.item
            let own = teacher.targets(histories: histories, targets: asTarget, options: DistillationOptions(weight: 0.6)).soft
            for level in 0..<3 {
                let row = plain.soft.rowCount + k * 3 + level
                let range = Int(taught.soft.offsets[row])..<Int(taught.soft.offsets[row + 1])
                if level < path.firstNewLevel { XCTAssertTrue(range.isEmpty, "path \(k) level \(level) repeats the target's row"); continue }
                let expected = Int(own.offsets[r * 3 + level])..<Int(own.offsets[r * 3 + level + 1])
                XCTAssertEqual(Array(taught.soft.classes[range]), Array(own.classes[expected]))
                XCTAssertEqual(Array(taught.soft.weights[range]), Array(own.weights[expected]))
            }
        }
        XCTAssertGreaterThan(shared, 0, "some extra path shares a prefix with its target (the case that leaves rows out)")
    }

    /// A run's record names one teacher as `teacher` (as runs before ensembles did, so they still resume) and several
    /// as `teachers`; both read back.
    func testTheRunRecordKeepsItsTeachers() throws {
        let plain = try MSCGRecTrainingTests.setup(epochs: 1)
        for teachers in [[], ["/a/sasrec"], ["/a/sasrec", "/b/sasrec"]] {
            let record = MSCGRecRunRecord(model: plain.config, training: plain.options, dataset: "d", items: 60, workDirectory: "/w", teachers: teachers)
            let json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
            XCTAssertEqual(json.contains(#""teacher":"#), teachers.count == 1, json)
            XCTAssertEqual(json.contains(#""teachers":"#), teachers.count > 1, json)
            XCTAssertEqual(try JSONDecoder().decode(MSCGRecRunRecord.self, from: Data(json.utf8)), record)
        }
    }

    func testTheConfigReadsDistillationAndRejectsBadValues() throws {
        let good = try MSCGRecRunConfig.decode(Data(#"{"training": {"distillation": {"weight": 0.3}}}"#.utf8), source: "c.json")
        XCTAssertEqual(good.training.distillation, DistillationOptions(weight: 0.3, temperature: 1, excludeHistory: true))
        XCTAssertNil(try MSCGRecRunConfig.decode(Data("{}".utf8), source: "c.json").training.distillation)
        XCTAssertEqual(good.training.earlyStopping, .ndcg, "a distilled run stops on ranking unless told otherwise")
        XCTAssertNil(good.training.validationUsers, "all validation users")
        XCTAssertEqual(try MSCGRecRunConfig.decode(Data("{}".utf8), source: "c.json").training.earlyStopping, .constrainedLoss)
        let explicit = try MSCGRecRunConfig.decode(Data(#"{"training": {"distillation": {}, "earlyStopping": "constrained-loss", "validationUsers": 7}}"#.utf8),
                                                   source: "c.json")
        XCTAssertEqual(explicit.training.earlyStopping, .constrainedLoss)
        XCTAssertEqual(explicit.training.validationUsers, 7)
        XCTAssertEqual(explicit.training.distillation, DistillationOptions(weight: 0.8, temperature: 1, excludeHistory: true, extraPaths: 0),
                       "weight 0.8 (Beauty's best validation NDCG@10), temperature 1 and no extra paths by default")
        let paths = try MSCGRecRunConfig.decode(Data(#"{"training": {"distillation": {"extraPaths": 2}}}"#.utf8), source: "c.json")
        XCTAssertEqual(paths.training.distillation?.extraPaths, 2)
        // The default is not written, so pipeline stages recorded before the field existed keep their fingerprints.
        let encoded = { (options: DistillationOptions) in String(decoding: try JSONEncoder().encode(options), as: UTF8.self) }
        XCTAssertFalse(try encoded(DistillationOptions()).contains("extraPaths"))
        XCTAssertTrue(try encoded(DistillationOptions(extraPaths: 2)).contains(#""extraPaths":2"#))
        for options in [DistillationOptions(), DistillationOptions(weight: 0.5, extraPaths: 3)] {
            XCTAssertEqual(try JSONDecoder().decode(DistillationOptions.self, from: JSONEncoder().encode(options)), options)
        }
        for (json, message) in [(#"{"training": {"distillation": {"weight": 1.5}}}"#, "weight must lie in [0, 1]"),
                                (#"{"training": {"distillation": {"temperature": 0}}}"#, "temperature must be positive"),
                                (#"{"training": {"distillation": {"wieght": 0.5}}}"#, "unknown field training.distillation.wieght"),
                                (#"{"training": {"distillation": {"excludeHistory": 1}}}"#, "excludeHistory"),
                                (#"{"training": {"distillation": {"extraPaths": -1}}}"#, "extraPaths must lie in 0…16"),
                                (#"{"training": {"validationUsers": 0}}"#, "validationUsers must be at least 1")] {
            XCTAssertThrowsError(try MSCGRecRunConfig.decode(Data(json.utf8), source: "c.json")) {
                XCTAssertTrue("\($0)".contains(message), "\(json): \($0)")
            }
        }
    }
}

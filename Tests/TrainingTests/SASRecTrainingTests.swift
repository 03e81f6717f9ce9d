@testable import Datasets
import Evaluation
import Models
import MSCCore
import TensorEngine
@testable import Training
import XCTest

final class SASRecTrainingTests: XCTestCase {
    /// Users walk around a ring of items with a personal stride (1, 2 or 3), so the next item is a function of
    /// the last two: learnable by attention, impossible for a popularity model (every item is equally popular).
    static func ringDataset(items: Int = 30, users: Int = 150, length: Int = 10, seed: UInt64 = 5) -> PreparedDataset {
        var rng = SplitMix64(seed: seed)
        let sequences = (0..<users).map { user -> [Int32] in
            let stride = user % 3 + 1
            let start = Int(rng.next() % UInt64(items))
            return (0..<length).map { Int32((start + $0 * stride) % items) }
        }
        return prepared(sequences, items: items, name: "ring")
    }

    /// A prepared dataset of the given sequences (item indices, oldest first), maximum history 20, every target.
    static func prepared(_ sequences: [[Int32]], items: Int, name: String) -> PreparedDataset {
        let offsets = sequences.reduce(into: [0]) { $0.append($0.last! + $1.count) }
        let flat = sequences.flatMap { $0 }
        let info = PreparedInfo(name: name, sourceFormat: "test", maxHistory: 20, targetMode: .all, minCount: 1, users: sequences.count,
                                items: items, interactions: flat.count, hasTimestamps: false,
                                preprocessing: PreprocessingReport(), createdBy: "test")
        return PreparedDataset(info: info, sequences: PreparedSequences(itemCount: items, userIDs: sequences.indices.map { "u\($0)" },
                                                                       offsets: offsets, items: flat, timestamps: nil))
    }

    func testTrainingBatchesAreLeftPaddedAndShifted() {
        let dataset = Self.ringDataset(items: 40, users: 3, length: 5)
        let batch = SequenceBatches.training(dataset, users: [0], length: 4)
        let training = dataset.trainingSequence(ofUser: 0).map { $0 + 1 }          // 3 items
        XCTAssertEqual(batch.ids, [0, 0, training[0], training[1]])
        XCTAssertEqual(batch.targets, [0, 0, training[1], training[2]])
    }

    /// With `everyTarget`, the windows of a history longer than the model's cover every training target exactly
    /// once; without, each user has its last window only.
    func testTrainingWindowsCoverEveryTargetOnce() {
        let dataset = Self.ringDataset(items: 40, users: 4, length: 10)        // 8 training items per user
        let windows = SequenceBatches.trainingWindows(dataset, length: 3)
        XCTAssertEqual(windows.filter { $0.user == 0 }.map(\.end), [8, 5, 2])
        let batch = SequenceBatches.training(dataset, windows: ArraySlice(windows), length: 3)
        for user in 0..<4 {
            let training = dataset.trainingSequence(ofUser: user).map { $0 + 1 }
            let targets = batch.users.indices.filter { batch.users[$0] == user }
                .flatMap { batch.targets[$0 * 3..<($0 + 1) * 3].filter { $0 != 0 } }
            XCTAssertEqual(targets.sorted(), Array(training.dropFirst()).sorted(), "user \(user)")
        }
        // Each row's inputs are its targets shifted by one.
        XCTAssertEqual(Array(batch.ids[0..<3]), Array(dataset.trainingSequence(ofUser: 0).map { $0 + 1 }[4..<7]))
        XCTAssertEqual(Array(batch.targets[0..<3]), Array(dataset.trainingSequence(ofUser: 0).map { $0 + 1 }[5..<8]))
        XCTAssertEqual(SequenceBatches.trainingWindows(dataset, length: 3, everyTarget: false).map(\.end), [8, 8, 8, 8])
    }

    /// Evaluation split over workers in small batches ranks exactly as one big batch does; removing the history
    /// never ranks a target lower, and does rank some higher (ring users revisit items).
    func testShardedEvaluationAndHistoryExclusion() throws {
        let dataset = Self.ringDataset(items: 11, users: 60, length: 16)
        let config = SASRecConfig(items: dataset.itemCount, dim: 16, layers: 1, heads: 2, maxLength: 8)
        var options = SASRecTrainingOptions()
        let model = SASRec(config, seed: 4)
        let whole = try SASRecTrainer(dataset: dataset, config: config, options: options).evaluate(model, split: .test, batchSize: 1000)
        let sharded = try SASRecTrainer(dataset: dataset, config: config, options: options).evaluate(model, split: .test, batchSize: 7)
        XCTAssertEqual(whole.report(split: "test"), sharded.report(split: "test"))
        options.excludeHistory = true
        let excluded = try SASRecTrainer(dataset: dataset, config: config, options: options).evaluate(model, split: .test, batchSize: 7)
        for k in [1, 5, 10] { XCTAssertGreaterThanOrEqual(excluded.recall(at: k), whole.recall(at: k), "recall@\(k)") }
        XCTAssertGreaterThan(excluded.mrr(at: 10), whole.mrr(at: 10))
        // 11 items on the ring (prime, so every stride visits all of them) and 15 seen before the target: every
        // other item is history, so the target ranks first.
        XCTAssertEqual(excluded.recall(at: 1), 1, accuracy: 1e-12)
    }

    /// An ensemble ranks by the mean of its members' softmaxes: each user's rank is the one a hand-made mixture of the
    /// two models' scores gives, and one model twice ranks as that model alone.
    func testEnsembleRanksByTheMeanDistribution() throws {
        let dataset = Self.ringDataset(items: 11, users: 60, length: 16)
        let config = SASRecConfig(items: dataset.itemCount, dim: 16, layers: 1, heads: 2, maxLength: 8)
        let (a, b) = (SASRec(config, seed: 4), SASRec(config, seed: 9))
        let trainer = try SASRecTrainer(dataset: dataset, config: config, options: SASRecTrainingOptions())
        XCTAssertEqual(trainer.evaluate(ensemble: [a, a], split: .test).ranks, trainer.evaluate(a, split: .test).ranks)
        let ensemble = trainer.evaluate(ensemble: [a, b], split: .test, batchSize: 7)
        let examples = (0..<dataset.userCount).map(dataset.testExample(ofUser:))
        let batch = SequenceBatches.evaluation(examples, length: config.maxLength)
        let (sa, sb) = (a.lastPositionScores(ids: batch.ids, batch: batch.size), b.lastPositionScores(ids: batch.ids, batch: batch.size))
        let n = config.items
        var differs = 0
        for (row, example) in examples.enumerated() {
            func softmax(_ s: Tensor) -> [Double] {
                let logits = (0..<n).map { Double(s[flat: row * n + $0]) }
                let z = logits.map(exp).reduce(0, +)
                return logits.map { exp($0) / z }
            }
            let mixture = zip(softmax(sa), softmax(sb)).map(+)
            let target = Int(example.target)
            let expected = 1 + (0..<n).filter { $0 != target && mixture[$0] >= mixture[target] }.count
            XCTAssertEqual(Int(ensemble.ranks[row]), expected, "user \(row)")
            if expected != Ranking.rank(ofItem: target, scores: (0..<n).map { sa[flat: row * n + $0] }) { differs += 1 }
        }
        XCTAssertGreaterThan(differs, 0, "the second model changes some ranks (else the check above proves little)")
    }

    /// An epoch split into two data-parallel shards per batch must move the weights as the unsplit epoch does
    /// (no dropout, so the only difference is summation order).
    func testShardedEpochMatchesTheSerialEpoch() throws {
        let dataset = Self.ringDataset(items: 30, users: 90)
        for loss in SASRecConfig.Loss.allCases {
            let config = SASRecConfig(items: dataset.itemCount, dim: 16, layers: 2, heads: 2, maxLength: 8, dropout: 0, loss: loss,
                                      feedForwardDim: 40)
            XCTAssertEqual(SASRec(config, seed: 0).blocks[1].w2.shape, [40, 16])
            var options = SASRecTrainingOptions()
            options.batchSize = 64
            let trainer = try SASRecTrainer(dataset: dataset, config: config, options: options)
            let order = SequenceBatches.trainingWindows(dataset, length: 8)
            var finalWeights: [[Float]] = [], losses: [Double] = []
            for shards in [1, 2] {
                let model = SASRec(config, seed: 3)
                let optimizer = AdamW(parameters: model.parameters, learningRate: 1e-2, weightDecay: 0)
                var rng = SeededGenerator(seed: 9)
                let dropouts = (0..<shards).map { DropoutContext(rate: 0, seed: UInt64($0)) }
                losses.append(trainer.trainEpoch(model, optimizer, order: order, dropouts: dropouts, rng: &rng))
                finalWeights.append(model.parameters.flatMap(\.scalars))
            }
            XCTAssertEqual(losses[0], losses[1], accuracy: 1e-5, "\(loss): epoch loss")
            let largest = zip(finalWeights[0], finalWeights[1]).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(largest, 1e-4, "\(loss): weights after a sharded epoch differ by \(largest)")
            XCTAssertNotEqual(finalWeights[0], SASRec(config, seed: 3).parameters.flatMap(\.scalars), "the epoch must train")
        }
    }

    /// BCE negatives come from outside the user's training items, as in the original SASRec, and only where a
    /// position has a target.
    func testNegativesAvoidTheUsersItems() throws {
        let dataset = Self.ringDataset(items: 30, users: 20)
        let config = SASRecConfig(items: dataset.itemCount, dim: 8, layers: 1, heads: 1, maxLength: 8, loss: .bce)
        let trainer = try SASRecTrainer(dataset: dataset, config: config, options: SASRecTrainingOptions())
        let batch = SequenceBatches.training(dataset, users: ArraySlice(0..<20), length: 8)
        var rng = SeededGenerator(seed: 1)
        let negatives = trainer.sampleNegatives(batch, &rng)
        for (row, user) in batch.users.enumerated() {
            let seen = Set(dataset.trainingSequence(ofUser: user).map { $0 + 1 })
            for position in row * 8..<(row + 1) * 8 {
                if batch.targets[position] == 0 { XCTAssertEqual(negatives[position], 0); continue }
                XCTAssertFalse(seen.contains(negatives[position]), "user \(user) drew its own item \(negatives[position])")
                XCTAssertTrue((1...30).contains(negatives[position]))
            }
        }
    }

    func testBothLossesLearnTheRingFarAboveChance() throws {
        let dataset = Self.ringDataset()
        for loss in SASRecConfig.Loss.allCases {
            let config = SASRecConfig(items: dataset.itemCount, dim: 24, layers: 2, heads: 2, maxLength: 8, dropout: 0.1, loss: loss)
            var options = SASRecTrainingOptions()
            options.epochs = 25; options.batchSize = 32; options.learningRate = 5e-3; options.patience = 25
            let trainer = try SASRecTrainer(dataset: dataset, config: config, options: options)
            let untrained = trainer.evaluate(SASRec(config, seed: 1), split: .test)
            let result = try trainer.train()
            // Chance level for Recall@10 over 30 items is 1/3; the ring is fully determined by the last two items.
            XCTAssertLessThan(untrained.recall(at: 1), 0.2, "\(loss): an untrained model must not already be good")
            XCTAssertGreaterThan(result.test.recall(at: 10), 0.8, "\(loss): test Recall@10 \(result.test.recall(at: 10))")
            // One sampled negative per position (BCE) sharpens the top of the ranking more slowly than the full softmax.
            let recallAt1Floor = loss == .ce ? 0.5 : 0.3
            XCTAssertGreaterThan(result.test.recall(at: 1), recallAt1Floor, "\(loss): test Recall@1 \(result.test.recall(at: 1))")
            XCTAssertGreaterThan(result.bestEpoch, 0)
        }
    }
}

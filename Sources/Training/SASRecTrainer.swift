import Datasets
import Foundation
import Metrics
import Models
import MSCCore
import TensorEngine

public struct SASRecTrainingOptions: Sendable, Codable {
    public var epochs = 200
    public var batchSize = 256
    public var learningRate: Float = 1e-3
    public var weightDecay: Float = 0
    /// Epochs without a better validation NDCG@10 before stopping.
    public var patience = 10
    public var seed: UInt64 = 42
    /// Remove each user's history items from the ranking (off by default: the paper's full ranking keeps them).
    public var excludeHistory = false
    public init() {}
}

/// What one epoch did, for progress lines and the training log.
public struct SASRecEpochReport: Sendable {
    public var epoch: Int
    public var loss: Double
    public var validation: RankingMetrics
    public var sequencesPerSecond: Double
    public var seconds: Double
    public var improved: Bool
}

public struct SASRecTrainingResult {
    public var model: SASRec
    public var bestEpoch: Int
    public var validation: RankingMetrics
    public var test: RankingMetrics
    public var epochs: [SASRecEpochReport]
}

/// Trains SASRec on a prepared dataset with early stopping on validation NDCG@10, keeping the best epoch's weights.
public final class SASRecTrainer {
    public let dataset: PreparedDataset
    public let config: SASRecConfig
    public let options: SASRecTrainingOptions

    public init(dataset: PreparedDataset, config: SASRecConfig, options: SASRecTrainingOptions) throws {
        try config.validate()
        guard config.items == dataset.itemCount else {
            throw ConfigError("config has \(config.items) items, the dataset \(dataset.itemCount)")
        }
        self.dataset = dataset
        self.config = config
        self.options = options
    }

    /// Trains until early stopping, `options.epochs`, or `shouldStop()` turning true between epochs (a signal or a
    /// time budget); in every case the best epoch's weights are restored and evaluated on the test split.
    public func train(shouldStop: () -> Bool = { false }, progress: (SASRecEpochReport) -> Void = { _ in }) -> SASRecTrainingResult {
        let model = SASRec(config, seed: options.seed)
        let optimizer = AdamW(parameters: model.parameters, learningRate: options.learningRate, weightDecay: options.weightDecay)
        var rng = SeededGenerator(seed: options.seed &+ 1)
        let dropout = DropoutContext(rate: config.dropout, seed: options.seed &+ 2)
        let users = SequenceBatches.trainableUsers(dataset)
        var best: (epoch: Int, ndcg: Double, weights: [[Float]], validation: RankingMetrics)?
        var reports: [SASRecEpochReport] = []
        for epoch in 1...options.epochs {
            let start = Date()
            let order = rng.permutation(users.count).map { users[$0] }
            let meanLoss = trainEpoch(model, optimizer, order: order, dropout: dropout, rng: &rng)
            let trainSeconds = Date().timeIntervalSince(start)
            let validation = evaluate(model, split: .validation)
            let ndcg = validation.ndcg(at: 10)
            let improved = best.map { ndcg > $0.ndcg } ?? true
            if improved { best = (epoch, ndcg, model.parameters.map(\.scalars), validation) }
            let report = SASRecEpochReport(epoch: epoch, loss: meanLoss, validation: validation,
                                           sequencesPerSecond: Double(order.count) / trainSeconds,
                                           seconds: Date().timeIntervalSince(start), improved: improved)
            reports.append(report)
            progress(report)
            if let best, epoch - best.epoch >= options.patience { break }
            if shouldStop() { break }
        }
        if let best {
            for (tensor, values) in zip(model.parameters, best.weights) { tensor.data.update(from: values, count: values.count) }
        }
        return SASRecTrainingResult(model: model, bestEpoch: best?.epoch ?? 0, validation: best?.validation ?? RankingMetrics(),
                                    test: evaluate(model, split: .test), epochs: reports)
    }

    /// One pass over `order` (user indices) in mini-batches; returns the mean batch loss.
    func trainEpoch(_ model: SASRec, _ optimizer: AdamW, order: [Int], dropout: DropoutContext, rng: inout SeededGenerator) -> Double {
        var lossSum = 0.0, batches = 0
        for batchStart in stride(from: 0, to: order.count, by: options.batchSize) {
            let batch = SequenceBatches.training(dataset, users: order[batchStart..<min(order.count, batchStart + options.batchSize)],
                                                 length: config.maxLength)
            optimizer.zeroGrad()
            let h = model.hidden(ids: batch.ids, batch: batch.size, dropout: dropout)
            let loss: Tensor
            switch config.loss {
            case .ce: loss = model.crossEntropyLoss(hidden: h, targets: batch.targets)
            case .bce: loss = model.binaryCrossEntropyLoss(hidden: h, targets: batch.targets, negatives: sampleNegatives(batch.targets, &rng))
            }
            loss.backward()
            optimizer.step()
            lossSum += Double(loss.item)
            batches += 1
        }
        return lossSum / Double(max(batches, 1))
    }

    /// Seconds per training epoch (no evaluation) of a fresh model: the speed benchmark's measurement.
    public func timeEpochs(_ count: Int) -> [(seconds: Double, loss: Double)] {
        let model = SASRec(config, seed: options.seed)
        let optimizer = AdamW(parameters: model.parameters, learningRate: options.learningRate, weightDecay: options.weightDecay)
        var rng = SeededGenerator(seed: options.seed &+ 1)
        let dropout = DropoutContext(rate: config.dropout, seed: options.seed &+ 2)
        let users = SequenceBatches.trainableUsers(dataset)
        return (0..<count).map { _ in
            let start = Date()
            let loss = trainEpoch(model, optimizer, order: rng.permutation(users.count).map { users[$0] }, dropout: dropout, rng: &rng)
            return (Date().timeIntervalSince(start), loss)
        }
    }

    public enum Split: String { case validation, test }

    /// Full ranking of all items for every user's held-out item.
    public func evaluate(_ model: SASRec, split: Split, batchSize: Int = 512) -> RankingMetrics {
        var metrics = RankingMetrics()
        let examples = (0..<dataset.userCount).map { split == .validation ? dataset.validationExample(ofUser: $0) : dataset.testExample(ofUser: $0) }
        for start in stride(from: 0, to: examples.count, by: batchSize) {
            let chunk = Array(examples[start..<min(examples.count, start + batchSize)])
            let batch = SequenceBatches.evaluation(chunk, length: config.maxLength)
            let scores = model.lastPositionScores(ids: batch.ids, batch: batch.size)
            let n = config.items
            var ranks = [Int](repeating: 0, count: chunk.count)
            let excludeHistory = options.excludeHistory
            ranks.withUnsafeMutableBufferPointer { out in
                Parallelism.forEachChunk(chunk.count, grain: 16) { rows in
                    for row in rows {
                        let example = chunk[row], target = Int(example.target)
                        let excluded = excludeHistory ? Set(example.history.map(Int.init)).subtracting([target]) : []
                        out[row] = Ranking.rank(ofItem: target, scores: UnsafeBufferPointer(start: scores.data + row * n, count: n),
                                                excluded: excluded)
                    }
                }
            }
            for rank in ranks { metrics.add(rank: rank) }
        }
        return metrics
    }

    /// One uniformly sampled negative per position with a target (never the target itself).
    private func sampleNegatives(_ targets: [Int32], _ rng: inout SeededGenerator) -> [Int32] {
        targets.map { target in
            guard target != 0, config.items > 1 else { return 0 }
            while true {
                let candidate = Int32(rng.index(config.items) + 1)
                if candidate != target { return candidate }
            }
        }
    }
}

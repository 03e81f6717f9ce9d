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
    /// Train on every training target (extra windows for histories longer than the model's), not only each user's
    /// last window.
    public var everyTarget = true
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
        let dropouts = dropoutContexts()
        let windows = SequenceBatches.trainingWindows(dataset, length: config.maxLength, everyTarget: options.everyTarget)
        var best: (epoch: Int, ndcg: Double, weights: [[Float]], validation: RankingMetrics)?
        var reports: [SASRecEpochReport] = []
        for epoch in 1...options.epochs {
            let start = Date()
            let order = rng.permutation(windows.count).map { windows[$0] }
            let meanLoss = trainEpoch(model, optimizer, order: order, dropouts: dropouts, rng: &rng)
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

    /// One pass over `order` (training windows) in mini-batches; returns the mean batch loss. Each batch is split into
    /// one shard per worker that runs forward and backward on its own thread (single-threaded BLAS inside); a
    /// shard's loss is weighted by its share of the batch's targets, so the summed gradient is the whole batch's.
    func trainEpoch(_ model: SASRec, _ optimizer: AdamW, order: [TrainingWindow], dropouts: [DropoutContext], rng: inout SeededGenerator) -> Double {
        var lossSum = 0.0, batches = 0
        for batchStart in stride(from: 0, to: order.count, by: options.batchSize) {
            let batch = SequenceBatches.training(dataset, windows: order[batchStart..<min(order.count, batchStart + options.batchSize)],
                                                 length: config.maxLength)
            let negatives = config.loss == .bce ? sampleNegatives(batch, &rng) : []
            let shards = batch.shardRanges(dropouts.count)
            let totalTargets = Float(batch.targetCount)
            let sinks = shards.map { _ in GradientSink() }
            var shardLosses = [Double](repeating: 0, count: shards.count)
            shardLosses.withUnsafeMutableBufferPointer { losses in
                Parallelism.forEachShard(shards.count) { s in
                    let part = batch.rows(shards[s])
                    let targets = Float(part.targetCount)
                    guard targets > 0 else { return }
                    let h = model.hidden(ids: part.ids, batch: part.size, dropout: dropouts[s])
                    let loss: Tensor
                    switch config.loss {
                    case .ce: loss = model.crossEntropyLoss(hidden: h, targets: part.targets)
                    case .bce:
                        let span = shards[s].lowerBound * batch.length..<shards[s].upperBound * batch.length
                        loss = model.binaryCrossEntropyLoss(hidden: h, targets: part.targets, negatives: Array(negatives[span]))
                    }
                    let weighted = loss * (targets / totalTargets)
                    weighted.backward(into: sinks[s])
                    losses[s] = Double(weighted.item)
                }
            }
            optimizer.zeroGrad()
            addGradients(sinks, into: model.parameters)
            optimizer.step()
            lossSum += shardLosses.reduce(0, +)
            batches += 1
        }
        return lossSum / Double(max(batches, 1))
    }

    /// One dropout stream per data-parallel shard (a run is reproducible for a given worker count).
    private func dropoutContexts() -> [DropoutContext] {
        (0..<max(1, Parallelism.workers)).map { DropoutContext(rate: config.dropout, seed: options.seed &+ 2 &+ UInt64($0) &* 7919) }
    }

    /// Seconds per training epoch (no evaluation) of a fresh model: the speed benchmark's measurement.
    public func timeEpochs(_ count: Int) -> [(seconds: Double, loss: Double)] {
        let model = SASRec(config, seed: options.seed)
        let optimizer = AdamW(parameters: model.parameters, learningRate: options.learningRate, weightDecay: options.weightDecay)
        var rng = SeededGenerator(seed: options.seed &+ 1)
        let dropouts = dropoutContexts()
        let windows = SequenceBatches.trainingWindows(dataset, length: config.maxLength, everyTarget: options.everyTarget)
        return (0..<count).map { _ in
            let start = Date()
            let loss = trainEpoch(model, optimizer, order: rng.permutation(windows.count).map { windows[$0] }, dropouts: dropouts, rng: &rng)
            return (Date().timeIntervalSince(start), loss)
        }
    }

    public enum Split: String { case validation, test }

    /// Full ranking of all items for every user's held-out item. Batches of users are spread over the workers,
    /// each scoring and ranking its own rows (one-thread BLAS): at d = 64 that scales where splitting each op does not.
    /// `excludeHistory` overrides the options' protocol (to report both from one model).
    public func evaluate(_ model: SASRec, split: Split, batchSize: Int = 256, excludeHistory: Bool? = nil) -> RankingMetrics {
        let examples = (0..<dataset.userCount).map { split == .validation ? dataset.validationExample(ofUser: $0) : dataset.testExample(ofUser: $0) }
        let batches = stride(from: 0, to: examples.count, by: batchSize).map { $0..<min(examples.count, $0 + batchSize) }
        let shards = max(1, min(Parallelism.workers, batches.count))
        let (n, excludeHistory) = (config.items, excludeHistory ?? options.excludeHistory)
        var ranks = [Int](repeating: 0, count: examples.count)
        ranks.withUnsafeMutableBufferPointer { out in
            Parallelism.forEachShard(shards) { shard in
                for range in stride(from: shard, to: batches.count, by: shards).map({ batches[$0] }) {
                    let batch = SequenceBatches.evaluation(Array(examples[range]), length: config.maxLength)
                    let scores = model.lastPositionScores(ids: batch.ids, batch: batch.size)
                    for (row, example) in examples[range].enumerated() {
                        let excluded = excludeHistory ? Set(priorItems(example, split).map(Int.init)) : []
                        out[range.lowerBound + row] = Ranking.rank(
                            ofItem: Int(example.target), scores: UnsafeBufferPointer(start: scores.data + row * n, count: n),
                            excluded: excluded)
                    }
                }
            }
        }
        var metrics = RankingMetrics()
        for rank in ranks { metrics.add(rank: rank) }
        return metrics
    }

    /// Every item the user interacted with before the held-out one (not only the truncated model input), which is
    /// what `excludeHistory` removes from the ranking, as the published full-ranking protocols do.
    private func priorItems(_ example: SequenceExample, _ split: Split) -> ArraySlice<Int32> {
        dataset.sequences.sequence(ofUser: example.user).dropLast(split == .validation ? 2 : 1)
    }

    /// One negative per position with a target, uniform over the items the user never trained on (as in the original
    /// SASRec); a user who has seen every item falls back to "any item but the target".
    func sampleNegatives(_ batch: PaddedBatch, _ rng: inout SeededGenerator) -> [Int32] {
        var negatives = [Int32](repeating: 0, count: batch.targets.count)
        for (row, user) in batch.users.enumerated() {
            let seen = Set(dataset.trainingSequence(ofUser: user).map { $0 + 1 })
            let avoid = seen.count < config.items ? seen : []
            for position in row * batch.length..<(row + 1) * batch.length where batch.targets[position] != 0 {
                let target = batch.targets[position]
                guard config.items > 1 else { break }
                var candidate: Int32
                repeat { candidate = Int32(rng.index(config.items) + 1) } while candidate == target || avoid.contains(candidate)
                negatives[position] = candidate
            }
        }
        return negatives
    }
}

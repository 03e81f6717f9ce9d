import Datasets
import Foundation
import Evaluation
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

public struct SASRecTrainingResult {
    public var model: SASRec
    public var bestEpoch: Int
    public var validation: RankingMetrics
    public var test: RankingMetrics
    public var epochs: [EpochRecord]
    /// False when a stop request or time budget ended the run before early stopping or the last epoch.
    public var finished: Bool
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
    /// time budget); in every case the best epoch's weights are restored and evaluated on the test split. With a
    /// `checkpoint` URL the loop saves one after every epoch, and `resume` continues from it exactly.
    public func train(checkpoint: URL? = nil, resume: Bool = false, shouldStop: () -> Bool = { false },
                      progress: (EpochRecord) -> Void = { _ in }) throws -> SASRecTrainingResult {
        let model = SASRec(config, seed: options.seed)
        let optimizer = AdamW(parameters: model.parameters, learningRate: options.learningRate, weightDecay: options.weightDecay)
        var rng = SeededGenerator(seed: options.seed &+ 1)
        let dropouts = dropoutContexts()
        let windows = SequenceBatches.trainingWindows(dataset, length: config.maxLength, everyTarget: options.everyTarget)
        let loop = TrainingLoop(parameters: model.namedParameters, optimizer: optimizer,
                                options: .init(epochs: options.epochs, patience: options.patience, checkpoint: checkpoint))
        if resume, let checkpoint {
            let saved = try loop.resume(from: checkpoint)
            try GeneratorStates.restore(saved, shuffle: &rng, dropouts: dropouts)
        }
        try loop.run(
            trainEpoch: { _ in
                let order = rng.permutation(windows.count).map { windows[$0] }
                return (trainEpoch(model, optimizer, order: order, dropouts: dropouts, rng: &rng), order.count)
            },
            validate: {
                let v = evaluate(model, split: .validation)
                return (v.ndcg(at: 10), ["recall@10": v.recall(at: 10), "ndcg@10": v.ndcg(at: 10)])
            },
            trainerState: { GeneratorStates.save(shuffle: rng, dropouts: dropouts) },
            shouldStop: shouldStop, progress: progress)
        return SASRecTrainingResult(model: model, bestEpoch: loop.state.bestEpoch, validation: evaluate(model, split: .validation),
                                    test: evaluate(model, split: .test), epochs: loop.state.records, finished: loop.state.finished)
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
            let loss = shardedGradients(shards: shards.count, parameters: model.parameters) { s in
                let part = batch.rows(shards[s])
                let targets = Float(part.targetCount)
                guard targets > 0 else { return nil }
                let h = model.hidden(ids: part.ids, batch: part.size, dropout: dropouts[s])
                switch config.loss {
                case .ce: return model.crossEntropyLoss(hidden: h, targets: part.targets) * (targets / totalTargets)
                case .bce:
                    let span = shards[s].lowerBound * batch.length..<shards[s].upperBound * batch.length
                    return model.binaryCrossEntropyLoss(hidden: h, targets: part.targets, negatives: Array(negatives[span]))
                        * (targets / totalTargets)
                }
            }
            optimizer.step()
            lossSum += loss
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
    /// `excludeHistory` overrides the options' protocol (to report both from one model); `scoringItems` [n, d] replaces
    /// the item table on the output side (see `SASRec.lastPositionScores`).
    public func evaluate(_ model: SASRec, split: Split, batchSize: Int = 256, excludeHistory: Bool? = nil,
                         scoringItems: Tensor? = nil) -> RankingMetrics {
        precondition(scoringItems.map { $0.shape == [config.items, config.dim] } ?? true, "scoring items must be [items, dim]")
        return evaluate(split: split, batchSize: batchSize, excludeHistory: excludeHistory) { ids, size in
            model.lastPositionScores(ids: ids, batch: size, items: scoringItems)
        }
    }

    /// Full ranking by an ensemble: the sum of the models' next-item softmaxes (∝ their mean distribution, what
    /// `SASRecTeacher` teaches with several runs). The models must share this trainer's items and maximum length.
    public func evaluate(ensemble models: [SASRec], split: Split, batchSize: Int = 256, excludeHistory: Bool? = nil) -> RankingMetrics {
        precondition(models.allSatisfy { $0.config.items == config.items && $0.config.maxLength == config.maxLength },
                     "ensemble members must share the items and maximum length")
        return evaluate(split: split, batchSize: batchSize, excludeHistory: excludeHistory) { ids, size in
            withoutGrad {
                let distributions = models.map { $0.lastPositionScores(ids: ids, batch: size).softmax() }
                return distributions.dropFirst().reduce(distributions[0], +)
            }
        }
    }

    private func evaluate(split: Split, batchSize: Int, excludeHistory: Bool?, scores: ([Int32], Int) -> Tensor) -> RankingMetrics {
        let examples = (0..<dataset.userCount).map { split == .validation ? dataset.validationExample(ofUser: $0) : dataset.testExample(ofUser: $0) }
        let batches = stride(from: 0, to: examples.count, by: batchSize).map { $0..<min(examples.count, $0 + batchSize) }
        let shards = max(1, min(Parallelism.workers, batches.count))
        let (n, excludeHistory) = (config.items, excludeHistory ?? options.excludeHistory)
        var ranks = [Int](repeating: 0, count: examples.count)
        ranks.withUnsafeMutableBufferPointer { out in
            Parallelism.forEachShard(shards) { shard in
                for range in stride(from: shard, to: batches.count, by: shards).map({ batches[$0] }) {
                    let batch = SequenceBatches.evaluation(Array(examples[range]), length: config.maxLength)
                    let scores = scores(batch.ids, batch.size)
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

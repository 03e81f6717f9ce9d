import ItemCodes
import Datasets
import Evaluation
import Foundation
import Generation
import Models
import MSCCore
import TensorEngine

public struct MSCGRecTrainingOptions: Codable, Sendable, Equatable {
    /// Also the length of the cosine schedule; the default fits the 60-minute budget of 2 cores on Beauty.
    public var epochs = 10
    /// Epochs without a better validation score (`earlyStopping`) before stopping.
    public var patience = 3
    public var batchSize = 256
    /// Encoder tokens per batch at most: long histories (up to 20 items × all modalities' codes) get fewer rows, so
    /// memory and step time stay bounded whatever the length.
    public var maxBatchTokens = 24_576
    /// Peak AdamW learning rate (the paper's 0.002 is for batch 2048), reached after `warmupSteps`, then cosine decay
    /// to `minLearningRate` at `epochs`.
    public var learningRate: Float = 0.002
    public var minLearningRate: Float = 0.0001
    public var warmupSteps = 300
    public var weightDecay: Float = 0.01
    public var clipNorm: Float = 1
    public var seed: UInt64 = 42
    /// What picks the best epoch and stops the run: the constrained validation loss over all validation users, or
    /// NDCG@10 of the constrained beam search (20 beams, history kept) on `validationUsers` fixed validation users.
    /// A config that leaves it out gets the loss, or NDCG@10 when it sets `distillation` (`MSCGRecRunConfig.decode`).
    /// Without distillation the loss is the default by measurement: on Beauty, NDCG@10 of 2,000 users moved by more
    /// than the epochs' progress, stopped the default schedule at epoch 7 with epoch 4's weights and gave test R@10
    /// .0504 (history excluded) where a loss-stopped run of the same schedule gave .0613. With distillation the
    /// hard-target loss stops seeing progress once the soft targets teach what it cannot measure: on Beauty it kept
    /// epoch 3 (test R@10 .0653, history kept) of a run whose epoch 6 ranked at .0769.
    public var earlyStopping = EarlyStopping.constrainedLoss
    /// How many validation users the NDCG@10 criterion ranks (nil: all of them; Beauty's 22,363 take about 80 s on
    /// one thread, against 9 min for an epoch).
    public var validationUsers: Int?
    /// The training steps' matrix products: `auto` (bfloat16 inputs with float32 accumulation, as PyTorch's CPU
    /// autocast, where the CPU has AVX512_BF16 and they measure faster than float32 there; see `MatmulPrecision.auto`),
    /// `bfloat16` or `float32`. Weights, gradients and optimiser state stay float32, and the validation and every
    /// evaluation run in float32. Zen 5 (one thread): the default step 1.22× and TIGER's 1.36× faster in bfloat16;
    /// Emerald Rapids: float32 level or faster (336 against 319 samples/s, 2 threads; `mscgrec-bench mscgrec` prints both).
    public var matmulPrecision = MatmulPrecision.auto
    /// Only each user's most recent N training targets (nil: every one). MovieLens users rate 100+ films, so every
    /// position would give 943 users 98,000 full-length histories, an epoch five times Beauty's.
    public var targetsPerUser: Int?
    /// Soft targets from a trained SASRec (`SASRecTeacher`; `train --teacher DIR`); nil: the paper's hard targets.
    public var distillation: DistillationOptions?
    public init() {}

    public enum EarlyStopping: String, Codable, Sendable { case ndcg = "ndcg@10", constrainedLoss = "constrained-loss" }

    // Runs recorded before a field existed read its default, so their config.json stays readable.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func read<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? fallback }
        epochs = try read(.epochs, epochs); patience = try read(.patience, patience); batchSize = try read(.batchSize, batchSize)
        maxBatchTokens = try read(.maxBatchTokens, maxBatchTokens); learningRate = try read(.learningRate, learningRate)
        minLearningRate = try read(.minLearningRate, minLearningRate); warmupSteps = try read(.warmupSteps, warmupSteps)
        weightDecay = try read(.weightDecay, weightDecay); clipNorm = try read(.clipNorm, clipNorm); seed = try read(.seed, seed)
        earlyStopping = try read(.earlyStopping, earlyStopping); validationUsers = try c.decodeIfPresent(Int.self, forKey: .validationUsers)
        matmulPrecision = try read(.matmulPrecision, matmulPrecision)
        targetsPerUser = try c.decodeIfPresent(Int.self, forKey: .targetsPerUser)
        distillation = try c.decodeIfPresent(DistillationOptions.self, forKey: .distillation)
        if let targetsPerUser, targetsPerUser < 1 { throw ConfigError("training.targetsPerUser must be at least 1, not \(targetsPerUser)") }
        if let validationUsers, validationUsers < 1 { throw ConfigError("training.validationUsers must be at least 1, not \(validationUsers)") }
    }
}

/// One example: the history `items[historyStart..<target]` of the prepared sequences, predicting `items[target]`.
struct MSCGRecExample: Sendable {
    var historyStart: Int32
    var target: Int32
    var length: Int { Int(target - historyStart) }
}

/// Trains MSCGRec on a prepared dataset (Amazon mode: every training position is a target) with the shared
/// `TrainingLoop`: length-bucketed batches, data-parallel shards, AdamW with warm-up + cosine decay and clipping,
/// early stopping on validation NDCG@10 of the beam search or on the constrained validation loss (eq. 6, no masking,
/// no dropout).
public final class MSCGRecTrainer {
    public let dataset: PreparedDataset
    public let config: MSCGRecConfig
    public let options: MSCGRecTrainingOptions
    public let items: ItemTokens
    public let tree: PrefixTree
    public let model: MSCGRec
    /// Present exactly when `options.distillation` is.
    public let teacher: SASRecTeacher?
    let training: [MSCGRecExample]
    let validation: [MSCGRecExample]
    let test: [MSCGRecExample]

    /// `tree` is the target modality's prefix tree over the same item indices as `items`; `teacher` is required by
    /// and only by `options.distillation`.
    public init(dataset: PreparedDataset, config: MSCGRecConfig, items: ItemTokens, tree: PrefixTree,
                options: MSCGRecTrainingOptions, teacher: SASRecTeacher? = nil) throws {
        try config.validate()
        guard items.itemCount == dataset.itemCount, tree.itemCount == dataset.itemCount else {
            throw ConfigError("codes cover \(items.itemCount) items and the tree \(tree.itemCount); the dataset has \(dataset.itemCount) (quantize this work directory again)")
        }
        guard tree.depth == items.layout.targetLevels else {
            throw ConfigError("the \(config.targetModality) prefix tree has depth \(tree.depth), the config \(items.layout.targetLevels) levels")
        }
        switch (options.distillation, teacher) {
        case (.some, nil): throw ConfigError("training.distillation needs a teacher SASRec (`train --teacher SASREC_RUN`)")
        case (nil, .some): throw ConfigError("a teacher SASRec was given but training.distillation is not set")
        default: break
        }
        self.dataset = dataset; self.config = config; self.options = options; self.items = items; self.tree = tree
        self.teacher = teacher
        model = MSCGRec(config, seed: options.seed)
        let base = dataset.sequences.items.startIndex
        func example(_ e: SequenceExample) -> MSCGRecExample? {
            let start = max(e.history.startIndex, e.history.endIndex - config.maxHistory)
            guard items.hasTarget[Int(e.target)], e.history.endIndex > start else { return nil }
            return MSCGRecExample(historyStart: Int32(start - base), target: Int32(e.history.endIndex - base))
        }
        var training: [MSCGRecExample] = [], users: [Int] = []
        dataset.forEachTrainingExample {
            if let e = example($0) { training.append(e); users.append($0.user) }
        }
        if let limit = options.targetsPerUser {
            // Examples come user by user in time order: keep the last `limit` of each user's run.
            training = training.indices.filter { i in i + limit >= users.count || users[i + limit] != users[i] }.map { training[$0] }
        }
        self.training = training
        validation = (0..<dataset.userCount).compactMap { example(dataset.validationExample(ofUser: $0)) }
        test = (0..<dataset.userCount).compactMap { example(dataset.testExample(ofUser: $0)) }
    }

    public var trainingExampleCount: Int { training.count }
    public var validationExampleCount: Int { validation.count }

    func history(_ e: MSCGRecExample) -> ArraySlice<Int32> { dataset.sequences.items[Int(e.historyStart)..<Int(e.target)] }
    func target(_ e: MSCGRecExample) -> Int32 { dataset.sequences.items[Int(e.target)] }

    /// Batches of equal history length (no padding at all), in length order, each of at most `size` rows and
    /// `options.maxBatchTokens` encoder tokens.
    func batches(_ examples: [MSCGRecExample], size: Int) -> [[MSCGRecExample]] {
        lengthGroups(examples).flatMap { chunks($0, rows(size, $0[0].length)) }
    }

    /// The same, shuffled within each length and across lengths.
    func shuffledBatches(_ examples: [MSCGRecExample], size: Int, rng: inout SeededGenerator) -> [[MSCGRecExample]] {
        var all: [[MSCGRecExample]] = []
        for group in lengthGroups(examples) {
            all += chunks(rng.permutation(group.count).map { group[$0] }, rows(size, group[0].length))
        }
        return rng.permutation(all.count).map { all[$0] }
    }

    private func rows(_ size: Int, _ length: Int) -> Int {
        let tokens = min(length, config.maxHistory) * items.layout.blockLength + 1
        return max(1, min(size, options.maxBatchTokens / tokens))
    }

    private func lengthGroups(_ examples: [MSCGRecExample]) -> [[MSCGRecExample]] {
        var byLength = [[MSCGRecExample]](repeating: [], count: config.maxHistory + 1)
        for e in examples { byLength[min(e.length, config.maxHistory)].append(e) }
        return byLength.filter { !$0.isEmpty }
    }

    private func chunks(_ group: [MSCGRecExample], _ size: Int) -> [[MSCGRecExample]] {
        stride(from: 0, to: group.count, by: size).map { Array(group[$0..<min(group.count, $0 + size)]) }
    }

    var schedule: LearningRateSchedule {
        let stepsPerEpoch = batches(training, size: options.batchSize).count
        return .cosine(base: options.learningRate, warmup: options.warmupSteps, total: stepsPerEpoch * options.epochs,
                       minimum: options.minLearningRate)
    }

    /// Trains (or, with `resume`, continues from `checkpoint`) until early stopping; the best epoch's weights end up in
    /// `model`. Returns the loop's state (best epoch, every epoch's record).
    /// `stepProgress(epoch, samples done, samples in the epoch)` after every optimiser step (for a progress line
    /// inside long epochs).
    public func train(checkpoint: URL? = nil, resume: Bool = false, shouldStop: () -> Bool = { false },
                      stepProgress: (Int, Int, Int) -> Void = { _, _, _ in },
                      progress: (EpochRecord) -> Void = { _ in }) throws -> LoopState {
        let parameters = model.namedParameters
        let optimizer = AdamW(parameters: parameters.map(\.1), learningRate: options.learningRate, weightDecay: options.weightDecay)
        let loop = TrainingLoop(parameters: parameters, optimizer: optimizer,
                                options: .init(epochs: options.epochs, patience: options.patience, checkpoint: checkpoint))
        var shuffle = SeededGenerator(seed: options.seed &+ 1)
        var masking = SeededGenerator(seed: options.seed &+ 3)
        let dropouts = (0..<max(1, Parallelism.workers)).map {
            DropoutContext(rate: config.transformer.dropout, seed: options.seed &+ 2 &+ UInt64($0) &* 7919)
        }
        if resume, let checkpoint {
            let saved = try loop.resume(from: checkpoint)
            try GeneratorStates.restore(saved, shuffle: &shuffle, dropouts: dropouts)
            masking = try GeneratorStates.decode(saved, "masking")
        }
        let schedule = self.schedule
        try loop.run(
            trainEpoch: { epoch in
                let batches = shuffledBatches(training, size: options.batchSize, rng: &shuffle)
                var lossSum = 0.0, done = 0
                for batch in batches {
                    optimizer.learningRate = schedule.rate(at: optimizer.stepCount)
                    lossSum += MatmulPrecision.using(options.matmulPrecision) {
                        step(batch, optimizer: optimizer, dropouts: dropouts, masking: &masking)
                    } * Double(batch.count)
                    done += batch.count
                    stepProgress(epoch, done, training.count)
                }
                return (lossSum / Double(max(1, training.count)), training.count)
            },
            validate: {
                let loss = constrainedLoss(validation)
                guard options.earlyStopping == .ndcg else { return (-loss, ["constrained_loss": loss]) }
                let metrics = validationRanking()
                return (metrics.ndcg(at: 10), ["constrained_loss": loss, "ndcg@10": metrics.ndcg(at: 10), "recall@10": metrics.recall(at: 10)])
            },
            trainerState: { GeneratorStates.save(shuffle: shuffle, dropouts: dropouts, extra: ["masking": masking]) },
            shouldStop: shouldStop, progress: progress)
        return loop.state
    }

    /// One optimiser step on `examples`: shards built here (modality masks drawn in order, so runs reproduce), run at
    /// once; returns the batch's mean loss.
    func step(_ examples: [MSCGRecExample], optimizer: AdamW, dropouts: [DropoutContext], masking: inout SeededGenerator) -> Double {
        let count = max(1, min(dropouts.count, examples.count / 16))
        let slices = (0..<count).map { s in examples[examples.count * s / count..<examples.count * (s + 1) / count] }
        let taught = slices.map { slice in
            options.distillation.flatMap { d in teacher?.targets(histories: slice.map(history), targets: slice.map(target), options: d) }
        }
        let parts = zip(slices, taught).map { slice, taught in
            var part = items.batch(histories: slice.map(history), targets: slice.map(target), maxHistory: config.maxHistory,
                                   maskProbability: config.maskProbability, rng: &masking)
            for path in taught?.extraPaths ?? [] {
                part.appendPath(source: path.example, codes: items.targetCodes(ofItem: Int(path.item)), firstLevel: path.firstNewLevel,
                                layout: items.layout)
            }
            return part
        }
        let soft = taught.map { $0?.soft }
        let total = Float(examples.count)
        let loss = shardedGradients(shards: count, parameters: optimizer.parameters) { s in
            let part = parts[s]
            return model.loss(part, allowed: allowedClasses(part), soft: soft[s], dropout: dropouts[s]) * (Float(part.size) / total)
        }
        if options.clipNorm > 0 { clipGradNorm(optimizer.parameters, maxNorm: options.clipNorm) }
        optimizer.step()
        return loss
    }

    /// The constrained rows of eq. 6 for a batch, or nil for the full softmax.
    func allowedClasses(_ batch: MSCGRecBatch) -> AllowedClasses? {
        config.softmax == .constrained ? tree.allowedClasses(targets: batch.targetCodes, classOffsets: items.layout.classOffsets) : nil
    }

    /// Mean constrained cross-entropy per target code over `examples` (no dropout, no masking; the modalities an item
    /// lacks still show MASK): the validation criterion, comparable between constrained and full-softmax models.
    func constrainedLoss(_ examples: [MSCGRecExample], batchSize: Int = 512) -> Double {
        let batches = self.batches(examples, size: batchSize)
        let shards = max(1, min(Parallelism.workers, batches.count))
        var sums = [Double](repeating: 0, count: shards)
        sums.withUnsafeMutableBufferPointer { out in
            Parallelism.forEachShard(shards) { shard in
                var unused = SeededGenerator(seed: 0)
                withoutGrad {
                    for b in stride(from: shard, to: batches.count, by: shards) {
                        let part = items.batch(histories: batches[b].map(history), targets: batches[b].map(target),
                                               maxHistory: config.maxHistory, rng: &unused)
                        let allowed = tree.allowedClasses(targets: part.targetCodes, classOffsets: items.layout.classOffsets)
                        out[shard] += Double(crossEntropy(model.logits(part, allowed: allowed), targets: part.labels, allowed: allowed).item) * Double(part.size)
                    }
                }
            }
        }
        return sums.reduce(0, +) / Double(max(1, examples.count))
    }

    /// Beam-search metrics (20 beams, history kept) of the current weights on `options.validationUsers` validation
    /// users drawn once with the run's seed (or all of them), so every epoch is judged on the same users.
    func validationRanking() -> RankingMetrics {
        var rng = SeededGenerator(seed: options.seed &+ 11)
        let users = Array(rng.permutation(dataset.userCount).prefix(options.validationUsers ?? dataset.userCount)).sorted()
        let search = ConstrainedBeamSearch(model: model, items: items, tree: tree)
        return GenerativeEvaluation.evaluate(search, dataset: dataset, split: .valid, excludeHistory: false, users: users)
    }

    public func validationLoss() -> Double { constrainedLoss(validation) }
    public func testLoss() -> Double { constrainedLoss(test) }

    /// Seconds and samples of `steps` optimiser steps on training batches of a fresh copy of the model (the speed
    /// benchmark's measurement; the trainer's own model is left alone).
    /// Also returns the (history length, rows) of every timed batch, so a reference can time the same shapes.
    public func timeSteps(_ steps: Int, warmup: Int = 2) throws -> (seconds: Double, samples: Int, shapes: [(items: Int, rows: Int)]) {
        let copy = try MSCGRecTrainer(dataset: dataset, config: config, items: items, tree: tree, options: options, teacher: teacher)
        let optimizer = AdamW(parameters: copy.model.parameters, learningRate: options.learningRate, weightDecay: options.weightDecay)
        let dropouts = (0..<max(1, Parallelism.workers)).map { DropoutContext(rate: config.transformer.dropout, seed: UInt64($0) + 5) }
        var rng = SeededGenerator(seed: options.seed)
        var masking = SeededGenerator(seed: 9)
        let batches = copy.shuffledBatches(training, size: options.batchSize, rng: &rng)
        var seconds = 0.0, samples = 0, shapes: [(items: Int, rows: Int)] = []
        for (i, batch) in batches.prefix(steps + warmup).enumerated() {
            let start = Date()
            _ = MatmulPrecision.using(options.matmulPrecision) { copy.step(batch, optimizer: optimizer, dropouts: dropouts, masking: &masking) }
            if i >= warmup { seconds += Date().timeIntervalSince(start); samples += batch.count; shapes.append((batch[0].length, batch.count)) }
        }
        return (seconds, samples, shapes)
    }
}

import Foundation
import Models
import ProcessSupport
import SafeTensors
import TensorEngine

/// What one epoch did: the progress line, `training_log.jsonl` and the checkpoint all hold it.
public struct EpochRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    /// Higher is better: what early stopping compares (e.g. NDCG@10, or minus the validation loss).
    public var validationScore: Double
    /// Named validation figures for the log.
    public var validation: [String: Double]
    public var samplesPerSecond: Double
    public var seconds: Double
    public var learningRate: Double
    public var improved: Bool
}

/// Where a run is: written into every checkpoint so that `--resume` continues it exactly.
public struct LoopState: Codable, Sendable, Equatable {
    public var completedEpochs = 0
    public var bestEpoch = 0
    public var bestScore: Double?
    public var records: [EpochRecord] = []
    /// True once early stopping or the epoch limit ended the run (a resumed finished run trains no further).
    public var finished = false
    public init() {}
}

/// The generic training loop every trainer shares: epochs until early stopping (patience on a validation score,
/// best weights kept in memory and in the checkpoint), a stop request between epochs, and a checkpoint after every
/// epoch (weights, optimiser moments, best weights, loop state and the trainer's own state such as generator streams),
/// written atomically. At the end the best epoch's weights are back in the parameters.
public final class TrainingLoop {
    public struct Options: Sendable {
        public var epochs: Int
        public var patience: Int
        /// Where the checkpoint goes after every epoch (nil: no checkpoint).
        public var checkpoint: URL?
        public init(epochs: Int, patience: Int, checkpoint: URL? = nil) {
            self.epochs = epochs; self.patience = patience; self.checkpoint = checkpoint
        }
    }

    public let parameters: [(String, Tensor)]
    public let optimizer: AdamW
    public let options: Options
    public private(set) var state = LoopState()
    private var bestWeights: [[Float]]?

    public init(parameters: [(String, Tensor)], optimizer: AdamW, options: Options) {
        precondition(parameters.map(\.1).elementsEqual(optimizer.parameters, by: ===), "optimizer must own the loop's parameters, in order")
        self.parameters = parameters
        self.optimizer = optimizer
        self.options = options
    }

    /// Runs the remaining epochs. `trainEpoch(epoch)` trains one epoch and returns its mean loss and sample count;
    /// `validate()` returns the score (higher is better) and named figures; `trainerState()` returns what the trainer
    /// needs to continue exactly (written into the checkpoint); `shouldStop()` is asked after every epoch.
    public func run(trainEpoch: (Int) -> (loss: Double, samples: Int),
                    validate: () -> (score: Double, figures: [String: Double]),
                    trainerState: () -> [String: String] = { [:] },
                    shouldStop: () -> Bool = { false },
                    progress: (EpochRecord) -> Void = { _ in }) throws {
        while !state.finished, state.completedEpochs < options.epochs {
            let epoch = state.completedEpochs + 1
            let start = Date()
            let (loss, samples) = trainEpoch(epoch)
            let trainSeconds = Date().timeIntervalSince(start)
            let (score, figures) = validate()
            let improved = state.bestScore.map { score > $0 } ?? true
            if improved {
                state.bestScore = score
                state.bestEpoch = epoch
                bestWeights = parameters.map { $0.1.scalars }
            }
            let record = EpochRecord(epoch: epoch, trainLoss: loss, validationScore: score, validation: figures,
                                     samplesPerSecond: Double(samples) / max(trainSeconds, 1e-9),
                                     seconds: Date().timeIntervalSince(start), learningRate: Double(optimizer.learningRate),
                                     improved: improved)
            state.records.append(record)
            state.completedEpochs = epoch
            state.finished = epoch - state.bestEpoch >= options.patience || epoch >= options.epochs
            if let url = options.checkpoint { try saveCheckpoint(to: url, trainerState: trainerState()) }
            progress(record)
            if shouldStop() { break }
        }
        restoreBest()
    }

    /// Puts the best epoch's weights into the parameters (after a run, or to read a resumed finished run's result).
    public func restoreBest() {
        guard let bestWeights else { return }
        for ((_, tensor), values) in zip(parameters, bestWeights) { tensor.data.update(from: values, count: values.count) }
    }

    // MARK: Checkpoints

    static let formatKey = "mscgrec_checkpoint", formatVersion = "1"

    public func saveCheckpoint(to url: URL, trainerState: [String: String]) throws {
        var file = SafeTensors()
        let (step, first, second) = optimizer.state
        for (index, (name, tensor)) in parameters.enumerated() {
            file.add("param.\(name)", shape: tensor.shape, floats: tensor.scalars)
            file.add("adam.m.\(name)", shape: tensor.shape, floats: first[index])
            file.add("adam.v.\(name)", shape: tensor.shape, floats: second[index])
            if let bestWeights { file.add("best.\(name)", shape: tensor.shape, floats: bestWeights[index]) }
        }
        file.metadata = [Self.formatKey: Self.formatVersion, "adam_step": "\(step)",
                         "learning_rate": "\(optimizer.learningRate)",
                         "loop": String(decoding: try JSONEncoder().encode(state), as: UTF8.self),
                         "trainer": String(decoding: try JSONEncoder().encode(trainerState), as: UTF8.self)]
        try file.write(to: url)   // temporary file, then rename: a crash leaves the previous checkpoint whole
    }

    /// Loads a checkpoint written by `saveCheckpoint` for the same parameters; returns the trainer's state.
    public func resume(from url: URL) throws -> [String: String] {
        let file = try SafeTensors.read(contentsOf: url)
        func fail(_ why: String) -> CheckpointError { CheckpointError("\(url.path): \(why)") }
        guard file.metadata[Self.formatKey] == Self.formatVersion else { throw fail("not a checkpoint of this trainer version") }
        guard let step = file.metadata["adam_step"].flatMap(Int.init),
              let loop = file.metadata["loop"], let trainer = file.metadata["trainer"],
              let rate = file.metadata["learning_rate"].flatMap(Float.init) else { throw fail("checkpoint metadata incomplete") }
        var first: [[Float]] = [], second: [[Float]] = [], best: [[Float]] = []
        let hasBest = file.names.contains { $0.hasPrefix("best.") }
        for (name, tensor) in parameters {
            guard try file.shape("param.\(name)") == tensor.shape else {
                throw fail("tensor \(name) has shape \(try file.shape("param.\(name)")), the model \(tensor.shape) (resume with the run's own config)")
            }
            let values = try file.floats("param.\(name)")
            tensor.data.update(from: values, count: values.count)
            first.append(try file.floats("adam.m.\(name)"))
            second.append(try file.floats("adam.v.\(name)"))
            if hasBest { best.append(try file.floats("best.\(name)")) }
        }
        try optimizer.restore(step: step, first: first, second: second)
        optimizer.learningRate = rate
        state = try JSONDecoder().decode(LoopState.self, from: Data(loop.utf8))
        bestWeights = hasBest ? best : nil
        return try JSONDecoder().decode([String: String].self, from: Data(trainer.utf8))
    }
}

public struct CheckpointError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One data-parallel optimiser step: `shards` forward + backward passes run at once over the shared weights, each
/// into its own gradient sink (single-threaded BLAS inside); the gradients are added into the parameters. Each
/// shard's loss must already be weighted by its share of the batch, so the sum is the whole batch's gradient.
/// Returns the summed (weighted) loss.
public func shardedGradients(shards: Int, parameters: [Tensor], _ shardLoss: (Int) -> Tensor?) -> Double {
    let sinks = (0..<shards).map { _ in GradientSink() }
    var losses = [Double](repeating: 0, count: shards)
    losses.withUnsafeMutableBufferPointer { out in
        Parallelism.forEachShard(shards) { s in
            guard let loss = shardLoss(s) else { return }
            loss.backward(into: sinks[s])
            out[s] = Double(loss.item)
        }
    }
    for p in parameters { p.grad = nil }
    addGradients(sinks, into: parameters)
    return losses.reduce(0, +)
}

/// Appends one JSON object per epoch (the `EpochRecord`), flushed as it goes, so a long run can be watched and
/// plotted; a resumed run appends to the same file.
public final class TrainingLog {
    private let handle: FileHandle

    public init(url: URL, append: Bool = false) throws {
        if !append || !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw CheckpointError("\(url.path): cannot create the training log")
            }
        }
        handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
    }

    public func append(_ record: EpochRecord, extra: [String: Double] = [:]) {
        var object: [String: Any] = ["epoch": record.epoch, "train_loss": record.trainLoss,
                                     "validation_score": record.validationScore, "samples_per_second": record.samplesPerSecond,
                                     "seconds": record.seconds, "learning_rate": record.learningRate, "improved": record.improved]
        for (key, value) in record.validation { object["val_\(key)"] = value }
        for (key, value) in extra { object[key] = value }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        handle.write(data + Data("\n".utf8))
    }
}

/// SIGINT/SIGTERM during a long run: the first one asks the trainer to stop after the current epoch and still write
/// its outputs; a second one exits at once (from the signal handler, so even a stuck epoch ends).
public enum StopRequest {
    private static let signals = [SIGINT, SIGTERM]

    /// Lock-free (the hub's per-signal counters), so it can be polled between batches as well as epochs.
    public static var isSet: Bool { signals.contains { SignalHub.shared.count(of: $0) > 0 } }

    public static func install() { SignalHub.shared.installImmediateExit(onRepeat: signals) }
}

/// Generator streams in a checkpoint's trainer state ("a,b,c,d" per stream), so a resumed run draws the same
/// shuffles, dropout masks and modality masks as an uninterrupted one.
public enum GeneratorStates {
    public static func encode(_ generator: SeededGenerator) -> String { generator.state.map(String.init).joined(separator: ",") }

    public static func decode(_ saved: [String: String], _ key: String) throws -> SeededGenerator {
        guard let text = saved[key], let generator = SeededGenerator(state: text.split(separator: ",").compactMap { UInt64($0) })
        else { throw CheckpointError("checkpoint lacks generator state '\(key)' (written by another trainer?)") }
        return generator
    }

    public static func save(shuffle: SeededGenerator, dropouts: [DropoutContext], extra: [String: SeededGenerator] = [:]) -> [String: String] {
        var saved = ["shuffle": encode(shuffle), "dropout_streams": "\(dropouts.count)"]
        for (i, context) in dropouts.enumerated() { saved["dropout.\(i)"] = encode(context.rng) }
        for (key, generator) in extra { saved[key] = encode(generator) }
        return saved
    }

    public static func restore(_ saved: [String: String], shuffle: inout SeededGenerator, dropouts: [DropoutContext]) throws {
        guard saved["dropout_streams"] == "\(dropouts.count)" else {
            throw CheckpointError("checkpoint was written with \(saved["dropout_streams"] ?? "?") threads, this run has \(dropouts.count): resume with the same --threads")
        }
        shuffle = try decode(saved, "shuffle")
        for (i, context) in dropouts.enumerated() { context.rng = try decode(saved, "dropout.\(i)") }
    }
}

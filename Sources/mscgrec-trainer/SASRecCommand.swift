import ArgumentParser
import Datasets
import Foundation
import Evaluation
import Models
import SafeTensors
import MSCCore
import TensorEngine
import Training

/// `sasrec`: trains the collaborative modality's source model and the sequential baseline MSCGRec must beat.
struct SASRecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sasrec",
        abstract: "Train SASRec on a prepared work directory; write test metrics, the model and its item embeddings.",
        discussion: """
        Writes into --out: metrics.json (test split), validation_metrics.json, item_embedding.safetensors (tensor \
        `item_embedding`, one row per item index: the collaborative modality), sasrec.safetensors (all weights, config in \
        its metadata) and training_log.jsonl (one line per epoch).
        """)

    @Option(help: "Work directory written by `prepare`.") var data: String
    @Option(help: "Output directory (created if missing).") var out: String
    @Option(help: "ce (full softmax, default) or bce (one sampled negative per position).") var loss: SASRecConfig.Loss = .ce
    @Option(help: "Embedding width.") var dim = 64
    @Option(help: "Feed-forward inner width (default: --dim, as the original SASRec).") var ffnDim: Int?
    @Option(help: "Transformer blocks.") var layers = 2
    @Option(help: "Attention heads.") var heads = 2
    @Option(help: "Maximum history length (default: the work directory's).") var maxLength: Int?
    @Option(help: "Dropout rate (embeddings, residual branches, attention probabilities); 0.5 suits sparse catalogues.")
    var dropout: Float = SASRecConfig(items: 1).dropout
    @Option(help: "Maximum epochs.") var epochs = 200
    @Option(help: "Epochs without a better validation NDCG@10 before stopping.") var patience = 10
    @Option(help: "Sequences per batch.") var batchSize = 256
    @Option(help: "AdamW learning rate.") var lr: Float = 1e-3
    @Option(help: "AdamW weight decay.") var weightDecay: Float = 0
    @Option(help: "Random seed (initialisation, shuffling, dropout, negatives).") var seed: UInt64 = 42
    @Flag(help: "Remove each user's history items from the ranking.") var excludeHistory = false
    @Flag(help: "Train on each user's last window only (the original SASRec), not on every training target.")
    var lastWindowOnly = false
    @Option(help: "Threads (BLAS and engine loops).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Stop after the epoch that passes this many minutes (the best epoch so far is kept and written).")
    var maxMinutes: Double?
    @Flag(help: "Continue the run in --out from its checkpoint (same flags).") var resume = false

    /// A run stopped by its time budget or a stop request exits 1, as `run` does, so scripts can tell it from a finished one.
    func run() throws { if try !execute() { throw ExitCode.failure } }

    /// Trains; true when the run finished, false when a stop request or the time budget ended it (`--resume` continues).
    func execute() throws -> Bool {
        Parallelism.setBLASThreads(threads)
        Parallelism.workers = threads
        let dataset = try WorkDirectory.load(URL(fileURLWithPath: data))
        let config = SASRecConfig(items: dataset.itemCount, dim: dim, layers: layers, heads: heads,
                                  maxLength: maxLength ?? dataset.maxHistory, dropout: dropout, loss: loss,
                                  feedForwardDim: ffnDim)
        var options = SASRecTrainingOptions()
        options.epochs = epochs; options.patience = patience; options.batchSize = batchSize
        options.learningRate = lr; options.weightDecay = weightDecay; options.seed = seed; options.excludeHistory = excludeHistory
        options.everyTarget = !lastWindowOnly
        let trainer = try SASRecTrainer(dataset: dataset, config: config, options: options)
        let outURL = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        let log = try TrainingLog(url: outURL.appendingPathComponent("training_log.jsonl"), append: resume)
        let checkpoint = outURL.appendingPathComponent("checkpoint.safetensors")
        if resume, !FileManager.default.fileExists(atPath: checkpoint.path) {
            throw ValidationError("--resume: no checkpoint at \(checkpoint.path)")
        }
        stderr("SASRec: \(dataset.userCount) users, \(dataset.itemCount) items, loss \(loss.rawValue), d \(dim), \(layers) blocks, \(heads) heads, L \(config.maxLength)")
        let started = Date()
        let shouldStop = stopCheck(started: started, maxMinutes: maxMinutes)
        var epochsThisSitting = 0
        let result = try trainer.train(checkpoint: checkpoint, resume: resume, shouldStop: shouldStop) { report in
            epochsThisSitting += 1
            let remaining = Date().timeIntervalSince(started) / Double(epochsThisSitting) * Double(epochs - report.epoch)
            stderr(String(format: "epoch %3d  loss %.4f  val R@10 %.4f N@10 %.4f%@  %.0f seq/s  %.1fs  ETA ≤ %@",
                          report.epoch, report.trainLoss, report.validation["recall@10"] ?? 0, report.validation["ndcg@10"] ?? 0,
                          report.improved ? " *" : "  ", report.samplesPerSecond, report.seconds, formatDuration(remaining)))
            log.append(report)
        }
        try result.test.report(split: "test").write(to: outURL.appendingPathComponent("metrics.json"))
        try result.validation.report(split: "validation").write(to: outURL.appendingPathComponent("validation_metrics.json"))
        var embeddings = SafeTensors()
        embeddings.metadata = ["source": "sasrec", "items": "\(dataset.itemCount)", "dim": "\(dim)"]
        embeddings.add("item_embedding", result.model.itemEmbeddings)
        try embeddings.write(to: outURL.appendingPathComponent("item_embedding.safetensors"))
        var weights = result.model.weights()
        weights.metadata = ["config": String(decoding: try JSONEncoder().encode(config), as: UTF8.self), "best_epoch": "\(result.bestEpoch)"]
        try weights.write(to: outURL.appendingPathComponent("sasrec.safetensors"))
        print(result.test.report(split: "test").jsonString())
        // The other ranking protocol from the same best model, for comparison with published rows (not early-stopped on it).
        let other = trainer.evaluate(result.model, split: .test, excludeHistory: !excludeHistory)
        let otherProtocol = other.report(split: excludeHistory ? "test (history kept)" : "test (history excluded)")
        let asked = result.test.report(split: excludeHistory ? "test (history excluded)" : "test (history kept)")
        for (report, ranks) in [(asked, result.test.ranks), (otherProtocol, other.ranks)] {
            let excluded = report.split.contains("excluded")
            try report.write(to: outURL.appendingPathComponent(MetricsReport.fileName(split: "test", historyExcluded: excluded)))
            try RankList(ranks: ranks, split: report.split)
                .write(to: outURL.appendingPathComponent(RankList.fileName(split: "test", historyExcluded: excluded)))
        }
        stderr(MetricsReport.table([result.validation.report(split: "validation"), result.test.report(split: "test"), otherProtocol]))
        if !result.finished { stderr("stopped before the end (resumable with --resume)") }
        stderr("best epoch \(result.bestEpoch); test R@10 \(String(format: "%.4f", result.test.recall(at: 10))) N@10 \(String(format: "%.4f", result.test.ndcg(at: 10))); wrote \(outURL.path)")
        return result.finished
    }
}

extension SASRecConfig.Loss: ExpressibleByArgument {}

/// Installs the SIGINT/SIGTERM stop request and returns the between-epochs check of a long run (signal or time budget).
func stopCheck(started: Date, maxMinutes: Double?) -> () -> Bool {
    StopRequest.install()
    let deadline = maxMinutes.map { started.addingTimeInterval($0 * 60) }
    return {
        if StopRequest.isSet { stderr("stop requested: finishing with the best epoch so far"); return true }
        if let deadline, Date() >= deadline { stderr("time budget reached: finishing with the best epoch so far (--resume continues)"); return true }
        return false
    }
}

func stderr(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

func formatDuration(_ seconds: Double) -> String {
    seconds >= 3600 ? String(format: "%.1fh", seconds / 3600) : seconds >= 60 ? String(format: "%.0fm", seconds / 60) : String(format: "%.0fs", seconds)
}

import ArgumentParser
import Datasets
import Foundation
import Models
import SafeTensors
import TensorEngine
import Training

/// `train`: the MSCGRec sequence model on a prepared, quantized work directory (paper 3.1, 3.3, 4.1).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the MSCGRec model on a work directory's item codes; early-stop on the constrained validation loss (or NDCG@10).",
        discussion: """
        Reads the codes `quantize` stored in WORK's catalog (every modality, or the config's model.modalities) and the \
        prepared splits (every training position a target). Writes into --out: model.safetensors (best epoch's weights, \
        config in its metadata), config.json (the resolved model configuration and training options), \
        training_log.jsonl (one line per epoch) and checkpoint.safetensors (after every epoch; --resume continues it \
        exactly). Ctrl-C, SIGTERM or --max-minutes stop after the current epoch and keep the best epoch so far.
        """)

    @Option(help: "Work directory written by `prepare` and `quantize`.") var data: String
    @Option(help: "JSON file with `model` and `training` settings (see configs/); every field optional.") var config: String?
    @Option(help: "Run directory (created if missing).") var out: String
    @Option(help: "SASRec run directory whose next-item distribution MSCGRec learns from as well (needs training.distillation in --config; not in the paper). Repeat it to learn from the mean distribution of several runs (e.g. two seeds).")
    var teacher: [String] = []
    @Flag(help: "Continue the run in --out from its checkpoint (same data and config).") var resume = false
    @Option(help: "Threads (data-parallel shards, each with single-threaded BLAS).")
    var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Stop after the epoch that passes this many minutes (the best epoch so far is kept and written).")
    var maxMinutes: Double?

    /// A run stopped by its time budget or a stop request exits 1, as `run` does, so scripts can tell it from a finished one.
    func run() throws { if try !execute() { throw ExitCode.failure } }

    /// Trains; true when the run finished (early stop or the last epoch), false when a stop request or the time budget
    /// ended it (then `--resume` continues).
    func execute() throws -> Bool {
        Parallelism.setBLASThreads(threads)
        Parallelism.workers = threads
        let work = URL(fileURLWithPath: data), outURL = URL(fileURLWithPath: out)
        let dataset = try WorkDirectory.load(work)
        var runConfig = MSCGRecRunConfig()
        if let config {
            let url = URL(fileURLWithPath: config)
            guard let bytes = FileManager.default.contents(atPath: url.path) else { throw ValidationError("cannot read --config \(config)") }
            runConfig = try MSCGRecRunConfig.decode(bytes, source: config)
        }
        let model = try runConfig.resolve(available: try MSCGRecWorkData.availableModalities(work: work), datasetMaxHistory: dataset.maxHistory)
        if teacher.isEmpty != (runConfig.training.distillation == nil) {
            throw ValidationError(teacher.isEmpty ? "training.distillation in --config needs --teacher SASREC_RUN"
                                                 : "--teacher needs training.distillation in --config (e.g. {\"training\": {\"distillation\": {\"weight\": 0.8}}})")
        }
        let teacherURLs = teacher.map { URL(fileURLWithPath: $0).standardizedFileURL }
        let record = MSCGRecRunRecord(model: model, training: runConfig.training, dataset: dataset.info.name, items: dataset.itemCount,
                                      workDirectory: work.standardizedFileURL.path, teachers: teacherURLs.map(\.path))
        try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        let recordURL = outURL.appendingPathComponent("config.json"), checkpoint = outURL.appendingPathComponent("checkpoint.safetensors")
        if resume {
            guard FileManager.default.fileExists(atPath: checkpoint.path),
                  let saved = FileManager.default.contents(atPath: recordURL.path) else {
                throw ValidationError("--resume: \(out) has no checkpoint.safetensors and config.json to continue")
            }
            let previous = try JSONDecoder().decode(MSCGRecRunRecord.self, from: saved)
            guard previous == record else {
                throw ValidationError("--resume: \(recordURL.path) was written with other settings; resume with the same --data and --config (or train into a new --out)")
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(record).write(to: recordURL, options: .atomic)

        let (items, tree) = try MSCGRecWorkData.load(work: work, config: model)
        let sasrecTeacher = try teacherURLs.isEmpty ? nil : SASRecTeacher(models: teacherURLs.map { try SASRec.load(runDirectory: $0) }, items: items)
        let trainer = try MSCGRecTrainer(dataset: dataset, config: model, items: items, tree: tree, options: runConfig.training,
                                         teacher: sasrecTeacher)
        let t = model.transformer
        stderr("MSCGRec: \(dataset.info.name), \(trainer.trainingExampleCount) training targets, \(trainer.validationExampleCount) validation; "
               + "modalities \(model.modalities.map { "\($0.name)\($0.codebookSizes)" }.joined(separator: " ")) → \(model.targetModality); "
               + "d \(t.dModel), \(t.encoderLayers)+\(t.decoderLayers) layers, \(t.heads)×\(t.headDim) heads, FFN \(t.dFF) \(t.feedForward.rawValue), "
               + "\(model.positionBias.rawValue) bias, \(model.softmax.rawValue) softmax, mask p \(model.maskProbability)"
               + (model.prefixBuckets.map { ", prefix table \($0) rows × 2 hashes, encoder\(model.prefixesInDecoder ? ", decoder" : "")\(model.prefixesInLogits ? ", logits" : "")" } ?? "") + "; "
               + "batch \(runConfig.training.batchSize), lr \(runConfig.training.learningRate), \(threads) threads; "
               + "products \(Self.precisionNote(runConfig.training.matmulPrecision))"
               + (runConfig.training.distillation.map { "; distilling SASRec \(teacher.joined(separator: " + ")) (weight \($0.weight), temperature \($0.temperature)\($0.excludeHistory ? ", history items excluded" : ""))" } ?? ""))
        let log = try TrainingLog(url: outURL.appendingPathComponent("training_log.jsonl"), append: resume)
        let started = Date()
        let shouldStop = stopCheck(started: started, maxMinutes: maxMinutes)
        var epochsThisSitting = 0, lastLine = Date(), epochStart = Date(), currentEpoch = 0, firstDone = 0
        let epochs = runConfig.training.epochs
        let stepProgress = { (epoch: Int, done: Int, total: Int) in
            if epoch != currentEpoch { currentEpoch = epoch; epochStart = Date(); firstDone = done }
            guard Date().timeIntervalSince(lastLine) >= 60, done > firstDone else { return }   // one line a minute inside long epochs
            lastLine = Date()
            let rate = Double(done - firstDone) / max(Date().timeIntervalSince(epochStart), 1e-9)
            stderr(String(format: "  epoch %d: %d/%d samples (%.0f%%), %.0f samples/s, epoch ETA %@", epoch, done, total,
                          100 * Double(done) / Double(total), rate, formatDuration(Double(total - done) / max(rate, 1e-9))))
        }
        let state = try trainer.train(checkpoint: checkpoint, resume: resume, shouldStop: shouldStop, stepProgress: stepProgress) { r in
            epochsThisSitting += 1
            let remaining = Date().timeIntervalSince(started) / Double(epochsThisSitting) * Double(epochs - r.epoch)
            let ranking = r.validation["ndcg@10"].map { String(format: "  val N@10 %.4f R@10 %.4f", $0, r.validation["recall@10"] ?? .nan) } ?? ""
            stderr(String(format: "epoch %3d  loss %.4f  val constrained loss %.4f%@%@  %.0f samples/s  lr %.2e  %.0fs  ETA ≤ %@",
                          r.epoch, r.trainLoss, r.validation["constrained_loss"] ?? .nan, ranking, r.improved ? " *" : "  ",
                          r.samplesPerSecond, r.learningRate, r.seconds, formatDuration(remaining)))
            log.append(r)
        }
        var weights = trainer.model.weights()
        weights.metadata = ["config": String(decoding: try JSONEncoder().encode(model), as: UTF8.self),
                            "best_epoch": "\(state.bestEpoch)", "format": "mscgrec-model"]
        try weights.write(to: outURL.appendingPathComponent("model.safetensors"))
        let verdict = !state.finished ? "stopped (resumable with --resume)"
            : state.completedEpochs - state.bestEpoch >= runConfig.training.patience ? "early-stopped" : "finished the schedule"
        let criterion = runConfig.training.earlyStopping == .constrainedLoss ? "validation constrained loss"
            : runConfig.training.validationUsers.map { "validation NDCG@10 (\($0) users)" } ?? "validation NDCG@10"
        let best = runConfig.training.earlyStopping == .ndcg ? state.bestScore ?? .nan : -(state.bestScore ?? .nan)
        stderr(String(format: "%@ after %d epochs; best epoch %d, %@ %.4f, test constrained loss %.4f; peak memory %@; wrote %@",
                      verdict, state.completedEpochs, state.bestEpoch, criterion, best, trainer.testLoss(),
                      "\(peakMemoryMiB()) MiB", outURL.path))
        return state.finished
    }
}

extension TrainCommand {
    /// What the requested product precision gives on this CPU, for the start-up line.
    static func precisionNote(_ requested: MatmulPrecision) -> String {
        switch (requested, MatmulPrecision.effective(requested)) {
        case (.auto, _): return MatmulPrecision.autoDescription
        case (.bfloat16, .bfloat16): return "bfloat16 (AVX512_BF16, float32 accumulation)"
        case (.bfloat16, _): return "float32 (bfloat16 requested; this CPU has no AVX512_BF16)"
        default: return "float32"
        }
    }
}

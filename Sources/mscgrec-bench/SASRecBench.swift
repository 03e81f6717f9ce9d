import BLASRuntime
import ArgumentParser
import Datasets
import Foundation
import MSCCore
import Models
import TensorEngine
import Training

/// SASRec training epochs on a real dataset: ours vs the PyTorch reference (scripts/bench_torch_sasrec.py) on the
/// same sequences, configuration and thread count, in one run.
struct SASRecBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sasrec",
        abstract: "SASRec seconds per training epoch: ours vs PyTorch on the same data and configuration.")

    @Option(help: "LC-Rec dataset folder (read by both sides).") var dataset = "../shared/datasets/amazon14-beauty"
    @Option(help: "Dataset name inside the folder.") var name = "Beauty"
    @Option(help: "Work directory to prepare into (reused when present).") var work = "/tmp/mscgrec-bench-sasrec"
    @Option(help: "ce or bce.") var loss = "ce"
    @Option(help: "Epochs timed on each side (median reported).") var epochs = 2
    @Option(help: "Threads for both sides.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Python interpreter with torch installed.") var python = "python3"

    func run() throws {
        Parallelism.setBLASThreads(threads)
        Parallelism.workers = threads
        print(KernelSelection.summaryLine + "; " + RowKernel.description)   // every figure names the CPU and kernels it was measured with
        let data = try preparedWorkDirectory(work, from: dataset, name: name)
        guard let lossKind = SASRecConfig.Loss(rawValue: loss) else { throw ValidationError("--loss must be ce or bce") }
        let config = SASRecConfig(items: data.itemCount, maxLength: 20, loss: lossKind)
        var options = SASRecTrainingOptions()
        options.everyTarget = false      // one window per user, as the PyTorch side trains
        let trainer = try SASRecTrainer(dataset: data, config: config, options: options)
        let ours = median(trainer.timeEpochs(epochs).map(\.seconds))
        let torch = try torchEpochSeconds(dropout: config.dropout)
        print("SASRec \(name), loss \(loss), d 64, 2 blocks, 2 heads, L 20, batch 256, dropout \(config.dropout), threads \(threads)")
        print(String(format: "ours %.2f s/epoch | torch %.2f s/epoch | ratio ours/torch %.2f", ours, torch, ours / torch))
    }

    private func torchEpochSeconds(dropout: Float) throws -> Double {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/bench_torch_sasrec.py").standardized
        let output = try runProcess(python, [script.path, "--data", dataset, "--name", name, "--loss", loss, "--ce-rows", "valid",
                                             "--threads", "\(threads)", "--epochs", "\(epochs)", "--dropout", "\(dropout)"])
        guard let line = output.split(separator: "\n").last,
              let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let seconds = json["median_epoch_seconds"] as? Double
        else { throw ValidationError("PyTorch SASRec benchmark printed no result") }
        return seconds
    }
}

/// The LC-Rec dataset `name` in `folder`, prepared into `work` unless it already is (benchmarks reuse it).
func preparedWorkDirectory(_ work: String, from folder: String, name: String) throws -> PreparedDataset {
    let url = URL(fileURLWithPath: work)
    if !FileManager.default.fileExists(atPath: WorkDirectory.datasetURL(url).path) {
        var options = PreparationOptions(format: .lcrec, output: work)
        options.input = folder
        options.name = name
        _ = try DatasetPreparation.run(options) { _ in }
    }
    return try WorkDirectory.load(url)
}

/// Runs a program to completion and returns its standard output; a non-zero exit is an error.
func runProcess(_ program: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [program] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ValidationError("\(program) \(arguments.first ?? "") exited with status \(process.terminationStatus) (is torch installed? `make bench-…` installs it)")
    }
    return String(decoding: data, as: UTF8.self)
}

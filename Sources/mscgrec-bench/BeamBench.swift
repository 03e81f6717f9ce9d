import ArgumentParser
import Artifacts
import BLASRuntime
import Catalog
import Datasets
import Foundation
import Generation
import ItemCodes
import Models
import SafeTensors
import TensorEngine
import Training

/// Users per second of batched constrained beam search (beam 20, K 10) at batch 1, 8 and 64: ours vs the PyTorch
/// reference beam search (scripts/bench_torch_beam.py, same weights and tree) and vs Hugging Face
/// `generate(num_beams=20, prefix_allowed_tokens_fn=…)` with a T5ForConditionalGeneration of the same shapes.
struct BeamBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "beam",
        abstract: "Constrained beam search users/s at batch 1, 8, 64: ours vs the PyTorch reference and HF generate.")

    @OptionGroup var beauty: BeautyWork
    var work: String { beauty.work }
    var dataset: String { beauty.dataset }
    var name: String { beauty.name }
    @Option(name: .customLong("run"), help: "A trained run (model.safetensors); default a freshly initialised model of the default config.")
    var runDirectory: String?
    @Option(help: "Test users timed per batch size.") var users = 128
    @Option(help: "Beam width.") var beams = 20
    @Option(help: "Results per user.") var results = 10
    @Option(help: "Threads for every side.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Python interpreter with torch and transformers installed.") var python = "python3"
    @Flag(help: "Skip the Python sides.") var noTorch = false
    @Option(help: "A bundle root (or version directory) to search with instead of --run; needs --history.") var bundle: String?
    @Option(help: "Give every user this history (comma-separated catalog ids) instead of the test split's, to compare with a server benchmark that sends one body.")
    var history: String?

    func run() throws {
        Parallelism.setBLASThreads(threads)
        Parallelism.workers = threads
        print(KernelSelection.summaryLine + "; " + RowKernel.description)
        let model: MSCGRec, config: MSCGRecConfig, items: ItemTokens, tree: PrefixTree, source: String, datasetName: String
        var histories: [[Int32]]
        if let bundle {
            // The serving bundle: the same weights, codes and tree the server searches with.
            guard let history else { throw ValidationError("--bundle needs --history (the bundle has no test split)") }
            let loaded = try LoadedBundle.load(URL(fileURLWithPath: bundle))
            (model, config, items, tree) = (loaded.model, loaded.manifest.model, loaded.items, loaded.tree)
            source = "bundle \(loaded.version)"
            datasetName = loaded.manifest.dataset.name
            histories = try repeatedHistory(history) { id in loaded.directoryOfItems.index(of: id) }
        } else {
            let data = try preparedWorkDirectory(work, from: dataset, name: name)
            datasetName = data.info.name
            var (c, i, t, s) = try MSCGRecBench.modelInputs(work: URL(fileURLWithPath: work), data: data, runConfig: MSCGRecRunConfig())
            var m = MSCGRec(c, seed: 1)
            if let run = runDirectory {
                let record = try JSONDecoder().decode(MSCGRecRunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: run).appendingPathComponent("config.json")))
                c = record.model
                m = try MSCGRec(c, weights: try SafeTensors.read(contentsOf: URL(fileURLWithPath: run).appendingPathComponent("model.safetensors")))
                (i, t) = try MSCGRecWorkData.load(work: URL(fileURLWithPath: work), config: c)
                s = "trained run \(run)"
            }
            (model, config, items, tree, source) = (m, c, i, t, s)
            histories = (0..<min(users, data.userCount)).map { Array(data.testExample(ofUser: $0).history) }
            if let history {
                let catalog = try ItemCatalog.open(at: WorkDirectory.catalogURL(URL(fileURLWithPath: work)))
                histories = try repeatedHistory(history) { id in try catalog.item(externalID: id).map { Int32($0.index) } }
            }
        }
        let search = ConstrainedBeamSearch(model: model, items: items, tree: tree)
        print("beam search: \(datasetName) (\(source)), \(histories.count) test users, beam \(beams), K \(results), threads \(threads), "
              + "prefix tree \(tree.byteCount) bytes (\(String(format: "%.1f", Double(tree.byteCount) / Double(max(1, tree.leafCount)))) per item)")
        var ours: [Int: Double] = [:]
        for batch in [1, 8, 16, 32, 64] {
            _ = search.recommend(histories: Array(histories.prefix(batch)), beams: beams, results: results, usersPerBatch: batch)   // warm-up
            let start = Date()
            _ = search.recommend(histories: histories, beams: beams, results: results, usersPerBatch: batch)
            ours[batch] = Double(histories.count) / Date().timeIntervalSince(start)
            print(String(format: "ours  batch %2d: %7.1f users/s (%.2f ms per user)", batch, ours[batch]!, 1000 / ours[batch]!))
        }
        print(String(format: "batch-64 / batch-1 per-user speed-up: %.2f", ours[64]! / ours[1]!))
        guard !noTorch else { return }
        // The Python side reads the same weights, codes and histories.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mscgrec-beam-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var inputs = model.weights()
        inputs.metadata = ["config": String(decoding: try JSONEncoder().encode(config), as: UTF8.self)]
        var rng = SeededGenerator(seed: 0)
        let tokens = histories.map { items.batch(histories: [$0], targets: nil, maxHistory: config.maxHistory, rng: &rng).encoderTokens.map(Int64.init) }
        let payload: [String: Any] = ["histories": tokens, "target_codes": (0..<items.itemCount).filter { items.hasTarget[$0] }.map { Array(items.targetCodes(ofItem: $0)).map(Int.init) },
                                      "beams": beams, "results": results, "threads": threads]
        try inputs.write(to: scratch.appendingPathComponent("weights.safetensors"))
        try JSONSerialization.data(withJSONObject: payload).write(to: scratch.appendingPathComponent("inputs.json"))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/bench_torch_beam.py").standardized
        let output = try runProcess(python, [script.path, "--dir", scratch.path])
        guard let line = output.split(separator: "\n").last,
              let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw ValidationError("PyTorch beam benchmark printed no result")
        }
        for batch in [1, 8, 64] {
            let reference = json["reference_\(batch)"] as? Double ?? .nan, hf = json["hf_\(batch)"] as? Double ?? .nan
            print(String(format: "batch %2d: torch reference %6.1f users/s (ours ×%.1f) | HF generate %6.1f users/s (ours ×%.1f)",
                         batch, reference, ours[batch]! / reference, hf, ours[batch]! / hf))
        }
    }

    /// `--history` (comma-separated ids) resolved by `index`, given to every one of the `users`.
    private func repeatedHistory(_ text: String, index: (String) throws -> Int32?) throws -> [[Int32]] {
        let ids = text.split(separator: ",").map(String.init)
        let found = try ids.map(index)
        guard found.allSatisfy({ $0 != nil }) else { throw ValidationError("--history: unknown ids \(zip(ids, found).filter { $0.1 == nil }.map(\.0))") }
        return Array(repeating: found.map { $0! }, count: users)
    }
}

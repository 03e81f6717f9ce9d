import ArgumentParser
import Foundation
import TensorEngine
import Training

/// `shapley`: the exact Shapley value of each input modality of a trained run (paper Table 3b).
struct ShapleyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shapley",
        abstract: "Exact Shapley value of each input modality: evaluate every subset, the absent modalities masked.",
        discussion: """
        Runs the beam-search evaluation once per subset of the run's input modalities (2^n runs; absent modalities show \
        their MASK token in every history item) and prints each subset's metrics and each modality's Shapley value per \
        metric. Meaningful for a model trained with masking (model.maskProbability > 0, paper 4.1: 0.75). Writes \
        RUN/shapley-<split>.json.
        """)

    @Option(name: .customLong("run"), help: "Run directory written by `train`.") var runDirectory: String
    @Option(help: "test or valid.") var split: GenerativeEvaluation.Split = .test
    @Flag(help: "Remove the user's earlier items from the results.") var excludeHistory = false
    @Option(help: "Beam width.") var beams = 20
    @Option(help: "Work directory (default: the one the run was trained on).") var data: String?
    @Option(help: "Threads (users spread over them, single-threaded BLAS in each).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func run() throws { _ = try execute() }

    func execute() throws -> ModalityShapley {
        Parallelism.setBLASThreads(threads)
        Parallelism.workers = threads
        let runURL = URL(fileURLWithPath: runDirectory)
        let run = try TrainedRun.load(runURL, workDirectory: data)
        if run.record.model.maskProbability == 0 {
            stderr("note: this run was trained without masking, so subsets with a masked modality are out of its training distribution")
        }
        let result = ModalityShapley.evaluate(model: run.model, items: run.items, tree: run.tree, dataset: run.dataset, split: split,
                                              excludeHistory: excludeHistory, beams: beams) { stderr("  \($0)") }
        let url = runURL.appendingPathComponent("shapley-\(split.rawValue).json")
        try Data((result.json() + "\n").utf8).write(to: url, options: .atomic)
        print(result.table())
        stderr("wrote \(url.path)")
        return result
    }
}

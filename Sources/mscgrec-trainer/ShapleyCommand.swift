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

    @OptionGroup var selection: RunSelection

    func run() throws { _ = try execute() }

    func execute() throws -> ModalityShapley {
        let (runURL, run) = try selection.load()
        let split = selection.split
        if run.record.model.maskProbability == 0 {
            stderr("note: this run was trained without masking, so subsets with a masked modality are out of its training distribution")
        }
        let result = ModalityShapley.evaluate(model: run.model, items: run.items, tree: run.tree, dataset: run.dataset, split: split,
                                              excludeHistory: selection.excludeHistory, beams: selection.beams) { stderr("  \($0)") }
        let url = runURL.appendingPathComponent("shapley-\(split.rawValue).json")
        try Data((result.json() + "\n").utf8).write(to: url, options: .atomic)
        print(result.table())
        stderr("wrote \(url.path)")
        return result
    }
}

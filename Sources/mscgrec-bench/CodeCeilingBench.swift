import ArgumentParser
import BLASRuntime
import Datasets
import Evaluation
import Foundation
import Models
import Quantization
import TensorEngine
import Training

/// How much the collaborative codes lose before any sequence model sees them: a trained SASRec ranks the test items
/// with its exact item embeddings, then with their residual-quantization reconstructions after 1, 2, … levels (the
/// user side unchanged). A generative recommender decoding those codes cannot expect to beat the reconstruction's row
/// by much, so the ratio says whether the quantizer or the seq2seq model limits MSCGRec.
struct CodeCeilingBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "code-ceiling",
        abstract: "SASRec's ranking with its item embeddings replaced by their RQ reconstructions (what codes lose).")

    @Option(help: "Work directory written by `prepare` (a pipeline's WORK/data).") var data: String
    @Option(help: "SASRec run directory (sasrec.safetensors, item_embedding.safetensors).") var sasrec: String
    @Option(help: "Residual-quantization levels, comma-separated configurations (e.g. 3,4).") var levels = "3"
    @Option(help: "Codes per level, comma-separated configurations (e.g. 256,512).") var codebook = "256"
    @Flag(help: "Quantize L2-normalised embeddings (as `quantize --normalize`); rows keep their norm when scoring.") var normalize = false
    @Option(help: "Threads.") var threads = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        Parallelism.setBLASThreads(1)
        Parallelism.workers = threads
        print(KernelSelection.summaryLine)
        let dataset = try WorkDirectory.load(URL(fileURLWithPath: data))
        let model = try SASRec.load(runDirectory: URL(fileURLWithPath: sasrec))
        let config = model.config
        let trainer = try SASRecTrainer(dataset: dataset, config: config, options: SASRecTrainingOptions())
        let exact = model.itemEmbeddings

        func metrics(_ items: Tensor?) -> (kept: RankingMetrics, excluded: RankingMetrics) {
            (trainer.evaluate(model, split: .test, excludeHistory: false, scoringItems: items),
             trainer.evaluate(model, split: .test, excludeHistory: true, scoringItems: items))
        }
        func row(_ label: String, _ m: (kept: RankingMetrics, excluded: RankingMetrics), against base: RankingMetrics?) {
            let ratio = base.map { String(format: "  (%.2f of exact)", m.kept.recall(at: 10) / $0.recall(at: 10)) } ?? ""
            print(label.padding(toLength: 34, withPad: " ", startingAt: 0)
                  + String(format: " %.4f / %.4f     %.4f / %.4f", m.kept.recall(at: 10), m.kept.ndcg(at: 10),
                           m.excluded.recall(at: 10), m.excluded.ndcg(at: 10)) + ratio)
        }
        print("SASRec \(sasrec): \(config.items) items, d \(config.dim); test split, \(dataset.userCount) users, full ranking")
        print("scoring items with                 kept R@10 / N@10   excluded R@10 / N@10")
        let base = metrics(nil)
        row("exact embeddings", base, against: nil)

        let input = FloatMatrix(exact.copy())
        let norms = normalize ? (0..<input.rows).map { r in input.rowArray(r).reduce(0) { $0 + $1 * $1 }.squareRoot() } : []
        if normalize { input.normalizeRows() }
        for levelCount in try integers(levels, "levels") {
            for size in try integers(codebook, "codebook") {
                let (codebooks, _) = try RQKMeans.train(input, options: RQKMeansOptions(levels: levelCount, codebookSize: size))
                let (codes, _) = codebooks.encode(input)
                for depth in 1...levelCount {
                    // Row r: Σ of its first `depth` code vectors (scaled back to the item's norm when quantized normalised).
                    let reconstruction = Tensor.zeros([input.rows, input.columns])
                    for r in 0..<input.rows {
                        let start = r * levelCount, scale = normalize ? norms[r] : 1
                        let vector = codebooks.decode(codes[start..<start + depth])
                        for j in 0..<input.columns { reconstruction.data[r * input.columns + j] = vector[j] * scale }
                    }
                    row("RQ \(levelCount)×\(size), first \(depth) level\(depth == 1 ? "" : "s")", metrics(reconstruction), against: base.kept)
                }
            }
        }
    }

    private func integers(_ list: String, _ name: String) throws -> [Int] {
        let values = list.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { throw ValidationError("--\(name): positive integers, comma-separated") }
        return values.map { $0! }
    }
}

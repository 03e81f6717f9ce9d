import ArgumentParser
import Datasets
import Foundation
import Generation
import Evaluation
import Models
import SafeTensors
import TensorEngine
import Training

/// `evaluate`: Recall/NDCG/MRR@1/5/10 of a trained MSCGRec run with constrained beam search, under both protocols.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a trained run with constrained beam search; write RUN/metrics-<split>.json.",
        discussion: """
        Ranks each user's held-out item where the beam search (default 20 beams, paper 4.1) returns it among its top 10. \
        The file holds the asked protocol (history kept by default, the paper's; --exclude-history removes every item the \
        user saw before, as the published SASRec/TIGER rows do); both protocols are printed.
        """)

    @Option(name: .customLong("run"), help: "Run directory written by `train`.") var runDirectory: String
    @Option(help: "test or valid.") var split: GenerativeEvaluation.Split = .test
    @Flag(help: "Remove the user's earlier items from the results (the file's protocol).") var excludeHistory = false
    @Option(help: "Beam width.") var beams = 20
    @Option(help: "Work directory (default: the one the run was trained on).") var data: String?
    @Option(help: "Threads (users spread over them, single-threaded BLAS in each).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        Parallelism.setBLASThreads(threads)
        Parallelism.workers = threads
        let runURL = URL(fileURLWithPath: runDirectory)
        guard let recordData = FileManager.default.contents(atPath: runURL.appendingPathComponent("config.json").path) else {
            throw ValidationError("\(runDirectory) has no config.json (not a `train` run directory)")
        }
        let record = try JSONDecoder().decode(MSCGRecRunRecord.self, from: recordData)
        guard let workPath = data ?? record.workDirectory else {
            throw ValidationError("\(runDirectory)/config.json does not name its work directory: pass --data")
        }
        let work = URL(fileURLWithPath: workPath)
        let dataset = try WorkDirectory.load(work)
        let weights = try SafeTensors.read(contentsOf: runURL.appendingPathComponent("model.safetensors"))
        let model = try MSCGRec(record.model, weights: weights)
        let (items, tree) = try MSCGRecWorkData.load(work: work, config: record.model)
        let search = ConstrainedBeamSearch(model: model, items: items, tree: tree)
        var reports: [MetricsReport] = []
        for exclude in [excludeHistory, !excludeHistory] {
            let started = Date()
            let label = "\(split.rawValue) (history \(exclude ? "excluded" : "kept"))"
            let metrics = GenerativeEvaluation.evaluate(search, dataset: dataset, split: split, excludeHistory: exclude, beams: beams) { done, total in
                let rate = Double(done) / Date().timeIntervalSince(started)
                stderr(String(format: "%@: %d/%d users, %.0f users/s, ETA %@", label, done, total, rate,
                              formatDuration(Double(total - done) / max(rate, 1e-9))))
            }
            let report = metrics.report(split: label)
            if exclude == excludeHistory {
                try report.write(to: runURL.appendingPathComponent("metrics-\(split.rawValue).json"))
                print(report.jsonString())
            }
            reports.append(report)
        }
        stderr(MetricsReport.table(reports))
    }
}

extension GenerativeEvaluation.Split: ExpressibleByArgument {}

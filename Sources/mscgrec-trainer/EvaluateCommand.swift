import ArgumentParser
import Foundation
import Generation
import Evaluation
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
        user saw before, as the published SASRec/TIGER rows do); both protocols are printed and written to \
        metrics-<split>-history-kept.json and metrics-<split>-history-excluded.json.
        """)

    @OptionGroup var selection: RunSelection
    var split: GenerativeEvaluation.Split { selection.split }
    var excludeHistory: Bool { selection.excludeHistory }
    var beams: Int { selection.beams }

    func run() throws { _ = try execute() }

    /// Evaluates under both protocols; returns (history kept, history excluded).
    @discardableResult
    func execute() throws -> (kept: MetricsReport, excluded: MetricsReport) {
        let (runURL, run) = try selection.load()
        let (dataset, search) = (run.dataset, ConstrainedBeamSearch(model: run.model, items: run.items, tree: run.tree))
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
            try report.write(to: runURL.appendingPathComponent(MetricsReport.fileName(split: split.rawValue, historyExcluded: exclude)))
            if exclude == excludeHistory {
                try report.write(to: runURL.appendingPathComponent("metrics-\(split.rawValue).json"))
                print(report.jsonString())
            }
            reports.append(report)
        }
        stderr(MetricsReport.table(reports))
        return excludeHistory ? (reports[1], reports[0]) : (reports[0], reports[1])
    }
}

extension GenerativeEvaluation.Split: ExpressibleByArgument {}

/// What `evaluate` and `shapley` both take: a trained run, the split and protocol, the beam width and threads.
struct RunSelection: ParsableArguments {
    @Option(name: .customLong("run"), help: "Run directory written by `train`.") var runDirectory: String
    @Option(help: "test or valid.") var split: GenerativeEvaluation.Split = .test
    @Flag(help: "Remove the user's earlier items from the results (evaluate: the file's protocol).") var excludeHistory = false
    @Option(help: "Beam width.") var beams = 20
    @Option(help: "Work directory (default: the one the run was trained on).") var data: String?
    @Option(help: "Threads (users spread over them, single-threaded BLAS in each).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    /// Sets the threads and loads the run.
    func load() throws -> (URL, TrainedRun) {
        Parallelism.setBLASThreads(threads)
        Parallelism.workers = threads
        let url = URL(fileURLWithPath: runDirectory)
        return (url, try TrainedRun.load(url, workDirectory: data))
    }
}

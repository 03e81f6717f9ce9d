import ArgumentParser
import Datasets
import Foundation
import Generation
import Evaluation
import Models
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
        metrics-<split>-history-kept.json and metrics-<split>-history-excluded.json, each user's rank to \
        ranks-<split>-history-<protocol>.txt (for `compare`). A `sasrec` run directory (with --data) is ranked over every \
        item and written the same way.
        """)

    @OptionGroup var selection: RunSelection
    var split: GenerativeEvaluation.Split { selection.split }
    var excludeHistory: Bool { selection.excludeHistory }
    var beams: Int { selection.beams }

    func run() throws { _ = try execute() }

    /// Evaluates under both protocols; returns (history kept, history excluded).
    @discardableResult
    func execute() throws -> (kept: MetricsReport, excluded: MetricsReport) {
        let (runURL, rank) = try ranker()
        var reports: [MetricsReport] = []
        for exclude in [excludeHistory, !excludeHistory] {
            let started = Date()
            let label = "\(split.rawValue) (history \(exclude ? "excluded" : "kept"))"
            let metrics = try rank(exclude) { done, total in
                let rate = Double(done) / Date().timeIntervalSince(started)
                stderr(String(format: "%@: %d/%d users, %.0f users/s, ETA %@", label, done, total, rate,
                              formatDuration(Double(total - done) / max(rate, 1e-9))))
            }
            let report = metrics.report(split: label)
            try report.write(to: runURL.appendingPathComponent(MetricsReport.fileName(split: split.rawValue, historyExcluded: exclude)))
            try RankList(ranks: metrics.ranks, split: label)
                .write(to: runURL.appendingPathComponent(RankList.fileName(split: split.rawValue, historyExcluded: exclude)))
            if exclude == excludeHistory {
                try report.write(to: runURL.appendingPathComponent("metrics-\(split.rawValue).json"))
                print(report.jsonString())
            }
            reports.append(report)
        }
        stderr(MetricsReport.table(reports))
        return excludeHistory ? (reports[1], reports[0]) : (reports[0], reports[1])
    }

    /// The run's ranking under a protocol: MSCGRec's constrained beam search, or full ranking for a `sasrec` run
    /// directory (so `compare` can pair the two on the same users).
    private func ranker() throws -> (URL, (Bool, (Int, Int) -> Void) throws -> RankingMetrics) {
        let url = URL(fileURLWithPath: selection.runDirectory)
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("sasrec.safetensors").path) {
            guard let data = selection.data else {
                throw ValidationError("\(url.path) is a SASRec run: name its work directory with --data")
            }
            selection.setThreads()
            let dataset = try WorkDirectory.load(URL(fileURLWithPath: data))
            let model = try SASRec.load(runDirectory: url)
            let trainer = try SASRecTrainer(dataset: dataset, config: model.config, options: SASRecTrainingOptions())
            let split: SASRecTrainer.Split = self.split == .test ? .test : .validation
            return (url, { exclude, _ in trainer.evaluate(model, split: split, excludeHistory: exclude) })
        }
        let (runURL, run) = try selection.load()
        let (dataset, search) = (run.dataset, ConstrainedBeamSearch(model: run.model, items: run.items, tree: run.tree))
        return (runURL, { exclude, progress in
            GenerativeEvaluation.evaluate(search, dataset: dataset, split: split, excludeHistory: exclude, beams: beams,
                                          progress: progress)
        })
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

    func setThreads() {
        Parallelism.setBLASThreads(threads)
        Parallelism.workers = threads
    }

    /// Sets the threads and loads the run.
    func load() throws -> (URL, TrainedRun) {
        setThreads()
        let url = URL(fileURLWithPath: runDirectory)
        return (url, try TrainedRun.load(url, workDirectory: data))
    }
}

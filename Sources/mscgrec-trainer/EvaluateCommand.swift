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
        item and written the same way; with --ensemble, by the mean distribution of it and the other SASRec runs named \
        (the teacher `train --teacher A --teacher B` learns from), written to --out.
        """)

    @OptionGroup var selection: RunSelection
    @Option(help: "SASRec runs only: rank by the mean next-item distribution of --run and this SASRec run of the same work directory (repeatable; needs --out).")
    var ensemble: [String] = []
    @Option(help: "Write the metrics and rank files here instead of into --run.") var out: String?
    var split: GenerativeEvaluation.Split { selection.split }
    var excludeHistory: Bool { selection.excludeHistory }
    var beams: Int { selection.beams }

    func run() throws { _ = try execute() }

    /// Evaluates under both protocols; returns (history kept, history excluded).
    @discardableResult
    func execute() throws -> (kept: MetricsReport, excluded: MetricsReport) {
        let (runURL, rank) = try ranker()
        let outURL = out.map { URL(fileURLWithPath: $0) } ?? runURL
        if out != nil { try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true) }
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
            try report.write(to: outURL.appendingPathComponent(MetricsReport.fileName(split: split.rawValue, historyExcluded: exclude)))
            try RankList(ranks: metrics.ranks, split: label)
                .write(to: outURL.appendingPathComponent(RankList.fileName(split: split.rawValue, historyExcluded: exclude)))
            if exclude == excludeHistory {
                try report.write(to: outURL.appendingPathComponent("metrics-\(split.rawValue).json"))
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
        let isSASRec = { (url: URL) in FileManager.default.fileExists(atPath: url.appendingPathComponent("sasrec.safetensors").path) }
        if isSASRec(url) {
            guard let data = selection.data else {
                throw ValidationError("\(url.path) is a SASRec run: name its work directory with --data")
            }
            guard ensemble.isEmpty || out != nil else { throw ValidationError("--ensemble needs --out (the ensemble's metrics are not --run's)") }
            selection.setThreads()
            let dataset = try WorkDirectory.load(URL(fileURLWithPath: data))
            let model = try SASRec.load(runDirectory: url)
            let members = try ensemble.map { path in
                let member = URL(fileURLWithPath: path)
                guard isSASRec(member) else { throw ValidationError("--ensemble \(path): not a SASRec run (no sasrec.safetensors)") }
                let loaded = try SASRec.load(runDirectory: member)
                guard loaded.config.items == model.config.items, loaded.config.maxLength == model.config.maxLength else {
                    throw ValidationError("--ensemble \(path): \(loaded.config.items) items, length \(loaded.config.maxLength); --run has \(model.config.items), \(model.config.maxLength)")
                }
                return loaded
            }
            let trainer = try SASRecTrainer(dataset: dataset, config: model.config, options: SASRecTrainingOptions())
            let split: SASRecTrainer.Split = self.split == .test ? .test : .validation
            if !members.isEmpty {
                return (url, { exclude, _ in trainer.evaluate(ensemble: [model] + members, split: split, excludeHistory: exclude) })
            }
            return (url, { exclude, _ in trainer.evaluate(model, split: split, excludeHistory: exclude) })
        }
        guard ensemble.isEmpty else { throw ValidationError("--ensemble ranks SASRec runs; \(url.path) is not one") }
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

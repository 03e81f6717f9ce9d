import ArgumentParser
import Evaluation
import Foundation
import Training

/// `run`: the whole pipeline of one dataset — prepare → SASRec → codes per modality → every generative model's
/// training and beam-search evaluation (→ Shapley values when asked) — each stage cached by its inputs and resumable,
/// ending with one comparison table under both ranking protocols.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the whole pipeline of a configs/<dataset>.json and print MSCGRec, TIGER and SASRec side by side.",
        discussion: """
        Stages run by calling this tool's own commands (prepare, sasrec, quantize, rqdino, image-codes, train, evaluate, \
        shapley) into the config's work directory: WORK/data (prepared splits, catalog, codes), WORK/sasrec, \
        WORK/encoders/<image modality>, WORK/models/<name>. Each \
        stage is recorded in WORK/stages/<stage>.json with what it was computed from (its settings, the stages it reads, \
        the size and content digest of its input files); a stage whose inputs are unchanged is reused, a changed one reruns with \
        everything that depends on it, and an interrupted one continues (training from its checkpoint). Ctrl-C or \
        --max-minutes stop after the current epoch; the same command continues. The table is also written to \
        WORK/results.md.
        """)

    @Option(help: "Pipeline config (configs/beauty.json, …).") var config: String
    @Option(help: "Root the config's dataset paths are relative to.") var datasets = "../shared/datasets"
    @Option(help: "Threads for every stage.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Stop (resumably) once this many minutes have passed.") var maxMinutes: Double?

    struct Stopped: Error, CustomStringConvertible {
        let stage: String
        var description: String { "stopped during \(stage) (time budget or stop request); run the same command again to continue" }
    }

    func run() throws {
        let started = Date()
        guard let bytes = FileManager.default.contents(atPath: config) else { throw ValidationError("cannot read --config \(config)") }
        let pipeline = try PipelineConfig.decode(bytes, source: config)
        let root = URL(fileURLWithPath: datasets).standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: root) else {
            throw ValidationError("--datasets \(datasets) does not exist (the config's dataset paths are relative to it)")
        }
        let work = URL(fileURLWithPath: pipeline.work).standardizedFileURL
        let lock = try WorkDirectoryLock(work)
        defer { withExtendedLifetime(lock) {} }
        let store = StageStore(directory: work.appendingPathComponent("stages"))
        let digests = FileDigestCache(file: store.directory.appendingPathComponent("file-digests.json"))
        let data = work.appendingPathComponent("data").path, sasrecDir = work.appendingPathComponent("sasrec").path
        func under(_ path: String) -> String { path.hasPrefix("/") ? path : "\(root)/\(path)" }
        func expand(_ options: [String]?) -> [String] { (options ?? []).map { $0.replacingOccurrences(of: "{datasets}", with: root) } }
        func minutesLeft() -> [String] {
            guard let maxMinutes else { return [] }
            return ["--max-minutes", String(max(0.01, maxMinutes - Date().timeIntervalSince(started) / 60))]
        }
        let threadArgs = ["--threads", "\(threads)"]

        /// Runs `body(resume)` unless the stage is cached; `output` (when given) is removed before a fresh start.
        func stage(_ name: String, _ inputs: StageInputs, output: String? = nil, body: (Bool) throws -> Bool) throws -> StageRecord {
            let decision = store.decide(name, inputs: inputs)
            try digests.save()
            if case .cached(let record) = decision {
                stderr("[run] \(name): cached (\(formatDuration(record.seconds ?? 0)) when it ran)")
                return record
            }
            if decision == .fresh, let output { try? FileManager.default.removeItem(atPath: output) }
            stderr("[run] \(name): \(decision == .resume ? "continuing" : "running")")
            try store.markStarted(name, inputs: inputs)
            let stageStart = Date()
            guard try body(decision == .resume) else { throw Stopped(stage: name) }
            let seconds = Date().timeIntervalSince(stageStart)
            stderr("[run] \(name): done in \(formatDuration(seconds))")
            return try store.markCompleted(name, inputs: inputs, seconds: seconds)
        }

        // Prepare.
        let d = pipeline.dataset
        let prepareArgs = ["--format", d.format, "--input", under(d.input)] + (d.name.map { ["--name", $0] } ?? []) + expand(d.options)
        let prepared = try stage("prepare", StageInputs(kind: "prepare", settings: .strings(prepareArgs), files: [under(d.input)], digests: digests),
                                 output: data) { _ in
            try PrepareCommand.parse(prepareArgs + ["--out", data]).run()
            return true
        }

        // SASRec: the baseline row and the collaborative modality's embeddings.
        let sasrecArgs = pipeline.sasrec ?? []
        let sasrec = try stage("sasrec", StageInputs(kind: "sasrec", settings: .strings(sasrecArgs), upstream: [prepared]),
                               output: sasrecDir) { resume in
            let resumable = resume && FileManager.default.fileExists(atPath: "\(sasrecDir)/checkpoint.safetensors")
            return try SASRecCommand.parse(["--data", data, "--out", sasrecDir] + threadArgs + minutesLeft()
                                           + (resumable ? ["--resume"] : []) + sasrecArgs).execute()
        }

        // Codes, one stage per modality (an image modality first trains its RQ-DINO encoder).
        var codes: [String: StageRecord] = [:]
        for m in pipeline.modalities {
            if let images = m.images {
                let encoderDir = work.appendingPathComponent("encoders").appendingPathComponent(m.name).path
                let encoderArgs = ["--images", under(images)] + (m.encoder ?? [])
                let encoder = try stage("encoder-\(m.name)", StageInputs(kind: "rqdino", settings: .strings(encoderArgs), files: [under(images)], digests: digests),
                                        output: encoderDir) { resume in
                    let resumable = resume && FileManager.default.fileExists(atPath: "\(encoderDir)/checkpoint.safetensors")
                    return try RQDINOCommand.parse(encoderArgs + ["--out", encoderDir] + threadArgs + minutesLeft()
                                                   + (resumable ? ["--resume"] : [])).execute()
                }
                let settings = ["--modality", m.name] + expand(m.options)
                codes[m.name] = try stage("codes-\(m.name)", StageInputs(kind: "image-codes", settings: .strings(settings),
                                                                          upstream: [prepared, encoder])) { _ in
                    try ImageCodesCommand.parse(["--data", data, "--encoder", encoderDir] + settings + threadArgs).run()
                    return true
                }
                continue
            }
            var args = ["--data", data, "--modality", m.name]
            var files: [String] = [], upstream = [prepared]
            if m.from == "sasrec" {
                args += ["--embeddings", "\(sasrecDir)/item_embedding.safetensors"]
                upstream.append(sasrec)
            } else if let embeddings = m.embeddings {
                args += ["--embeddings", under(embeddings)] + (m.ids.map { ["--ids", under($0)] } ?? [])
                files = [under(embeddings)] + (m.ids.map { [under($0)] } ?? [])
            } else if let index = m.codes {
                args += ["--codes", under(index)]
                files = [under(index)]
            }
            args += expand(m.options)
            let settings = CodableJSON.strings(args.filter { $0 != data })
            codes[m.name] = try stage("codes-\(m.name)", StageInputs(kind: "quantize", settings: settings, upstream: upstream, files: files, digests: digests)) { _ in
                try QuantizeCommand.parse(args + ["--quiet"]).run()
                return true
            }
        }

        // Every generative model: train, evaluate (both protocols), Shapley values when asked.
        var rows: [(name: String, kept: MetricsReport, excluded: MetricsReport)] = []
        var rowDirectories: [(name: String, dir: String)] = []
        var shapley: [(model: String, file: String)] = []
        for model in pipeline.models {
            let dir = work.appendingPathComponent("models").appendingPathComponent(model.slug).path
            let inputs = model.modalityNames.compactMap { codes[$0] }
            // Keyed by the config with every default filled in, so a changed default retrains too.
            let resolved = try MSCGRecRunConfig.decode(model.config.canonicalData(), source: "\(config): model \"\(model.name)\"")
            let settings = try JSONDecoder().decode(CodableJSON.self, from: JSONEncoder().encode(resolved))
            // A distilled row learns from the pipeline's SASRec as well, so it retrains when that does.
            let distilled = resolved.training.distillation != nil
            let trained = try stage("train-\(model.slug)", StageInputs(kind: "train", settings: settings,
                                                                      upstream: [prepared] + inputs + (distilled ? [sasrec] : [])),
                                    output: dir) { resume in
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                let configFile = "\(dir)/train-config.json"
                try model.config.canonicalData().write(to: URL(fileURLWithPath: configFile), options: .atomic)
                let resumable = resume && FileManager.default.fileExists(atPath: "\(dir)/checkpoint.safetensors")
                return try TrainCommand.parse(["--data", data, "--config", configFile, "--out", dir] + threadArgs + minutesLeft()
                                              + (distilled ? ["--teacher", sasrecDir] : []) + (resumable ? ["--resume"] : [])).execute()
            }
            let evaluated = try stage("evaluate-\(model.slug)", StageInputs(kind: "evaluate", settings: .strings(["test", "20"]), upstream: [trained])) { _ in
                try EvaluateCommand.parse(["--run", dir, "--data", data] + threadArgs).execute()
                return true
            }
            if model.shapley == true {
                _ = try stage("shapley-\(model.slug)", StageInputs(kind: "shapley", settings: .strings(["test", "20", "kept"]), upstream: [evaluated])) { _ in
                    _ = try ShapleyCommand.parse(["--run", dir, "--data", data] + threadArgs).execute()
                    return true
                }
                shapley.append((model.name, "\(dir)/shapley-test.json"))
            }
            rows.append((model.name, try report(dir, excluded: false), try report(dir, excluded: true)))
            rowDirectories.append((model.name, dir))
        }
        rows.append(("SASRec (ours)", try report(sasrecDir, excluded: false), try report(sasrecDir, excluded: true)))

        var table = Self.comparison(rows, dataset: d.name ?? d.input)
        table += Self.pairedTable(rowDirectories, against: ("SASRec (ours)", sasrecDir))
        for (name, file) in shapley { table += try Self.shapleyTable(model: name, file: file) }
        print(table)
        try Data(table.utf8).write(to: work.appendingPathComponent("results.md"), options: .atomic)
        stderr("[run] finished in \(formatDuration(Date().timeIntervalSince(started))) (this sitting); wrote \(work.path)/results.md")
    }

    private func report(_ dir: String, excluded: Bool) throws -> MetricsReport {
        let path = "\(dir)/\(MetricsReport.fileName(split: "test", historyExcluded: excluded))"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("\(path) is missing") }
        return try MetricsReport(json: text)
    }

    /// Two markdown tables (history kept, the paper's protocol; history excluded, the published rows' protocol).
    static func comparison(_ rows: [(name: String, kept: MetricsReport, excluded: MetricsReport)], dataset: String) -> String {
        var out = ""
        for excluded in [false, true] {
            let reports = rows.map { row -> MetricsReport in
                var r = excluded ? row.excluded : row.kept
                r.split = row.name
                return r
            }
            out += "\(dataset), test split, full ranking, history \(excluded ? "excluded" : "kept")\n\n"
            out += MetricsReport.markdownTable(reports) + "\n\n"
        }
        return out
    }
}

extension RunCommand {
    /// Each row's R@10 and N@10 minus the baseline's on the same users, with the paired standard error (`compare`);
    /// rows evaluated before rank lists were written are named instead.
    static func pairedTable(_ rows: [(name: String, dir: String)], against baseline: (name: String, dir: String)) -> String {
        var lines: [String] = [], missing: [String] = []
        for excluded in [false, true] {
            let file = RankList.fileName(split: "test", historyExcluded: excluded)
            guard let base = try? RankList(contentsOf: URL(fileURLWithPath: "\(baseline.dir)/\(file)")) else {
                missing.append(baseline.name)
                continue
            }
            for row in rows {
                guard let list = try? RankList(contentsOf: URL(fileURLWithPath: "\(row.dir)/\(file)")),
                      list.ranks.count == base.ranks.count else { missing.append(row.name); continue }
                let paired = PairedComparison(list.ranks, base.ranks, cutoffs: [10])
                let cells = ["recall@10", "ndcg@10"].map { metric -> String in
                    let r = paired.rows.first { $0.metric == metric }!
                    return String(format: "%+.4f ± %.4f (z %+.1f)", r.difference, r.standardError, r.z)
                }
                lines.append("| \(row.name) | \(excluded ? "excluded" : "kept") | \(cells[0]) | \(cells[1]) |")
            }
        }
        var out = ""
        if !lines.isEmpty {
            out += "Each row minus \(baseline.name) on the same test users (paired standard error; `compare` prints every metric)\n\n"
            out += "| model | history | R@10 difference | N@10 difference |\n|---|---|---|---|\n" + lines.joined(separator: "\n") + "\n\n"
        }
        let unpaired = Array(Set(missing)).sorted()
        if !unpaired.isEmpty {
            out += "No rank lists for \(unpaired.joined(separator: ", ")) (evaluated before they were written; `evaluate --run` writes them)\n\n"
        }
        return out
    }

    /// Each modality's Shapley value per metric, from what `shapley` wrote.
    static func shapleyTable(model: String, file: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: file),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let names = object["modalities"] as? [String], let values = object["shapley"] as? [String: [String: Double]] else {
            throw ValidationError("\(file): not a Shapley result")
        }
        let keys = MetricsReport.paperKeys
        let reports = names.map { name in MetricsReport(values: keys.map { ($0, values[name]?[$0] ?? .nan) }, users: 0, split: name) }
        return "\(model): exact Shapley value of each input modality (test, history kept)\n\n" + MetricsReport.markdownTable(reports) + "\n\n"
    }
}

extension PipelineConfig.Model {
    /// The input modalities its config lists (validated present when the config was read).
    var modalityNames: [String] {
        guard case .object(let o) = config, case .object(let m)? = o["model"], case .array(let list)? = m["modalities"] else { return [] }
        return list.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
    }
}

extension CodableJSON {
    static func strings(_ values: [String]) -> CodableJSON { .array(values.map { .string($0) }) }
}

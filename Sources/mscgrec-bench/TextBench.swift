import ArgumentParser
import Foundation
import TensorEngine
import Quantization
import TextEncoding

/// Item-text embedding throughput: our encoder vs sentence-transformers on PyTorch (scripts/bench_text.py), same model
/// directory, texts (Beauty titles), batch size and threads, one run; plus the largest difference between the two.
struct TextBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "text",
        abstract: "Sentence embedding items/s: ours vs sentence-transformers on the same texts and threads.")

    @Option(help: "LC-Rec item JSON whose titles are embedded.") var items = "../shared/datasets/amazon14-beauty/Beauty.item.json"
    @Option(help: "Model directories, comma-separated.")
    var models = ".build/text-models/all-MiniLM-L6-v2,.build/text-models/all-mpnet-base-v2"
    @Option(help: "Embed only the first N titles (0: all).") var limit = 0
    @Option(help: "Threads for both sides.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Texts per batch on both sides.") var batchSize = 32
    @Option(help: "Python interpreter with sentence-transformers installed.") var python = "python3"
    @Option(help: "Catalog size the time is extrapolated to (Amazon 2023 Beauty).") var estimateItems = 200_000

    func run() throws {
        Parallelism.setBLASThreads(threads)
        Parallelism.workers = threads
        var texts = try titles()
        if limit > 0 { texts = Array(texts.prefix(limit)) }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mscgrec-bench-text-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let textsURL = scratch.appendingPathComponent("texts.json")
        try JSONSerialization.data(withJSONObject: texts).write(to: textsURL)
        print("\(texts.count) Beauty titles, batch \(batchSize), threads \(threads) on both sides")
        for model in models.split(separator: ",").map(String.init) {
            let encoder = try SentenceEncoder.load(model)
            _ = encoder.embed(Array(texts.prefix(64)), options: BatchOptions(batchSize: batchSize, workers: threads))  // warm-up
            let start = ContinuousClock.now
            let ours = encoder.embed(texts, options: BatchOptions(batchSize: batchSize, workers: threads))
            let oursSeconds = (ContinuousClock.now - start).inSeconds
            let referenceURL = scratch.appendingPathComponent("reference.f32")
            let output = try runProcess(python, [scriptPath, "--model", model, "--texts", textsURL.path, "--threads", "\(threads)",
                                                 "--batch-size", "\(batchSize)", "--out", referenceURL.path])
            guard let line = output.split(separator: "\n").last,
                  let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let torchSeconds = json["seconds"] as? Double
            else { throw ValidationError("scripts/bench_text.py printed no result") }
            let reference = try Data(contentsOf: referenceURL).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            guard reference.count == ours.count else { throw ValidationError("reference has \(reference.count) values, ours \(ours.count)") }
            let d = encoder.dimension
            var maxDiff: Float = 0, minCosine: Float = 1
            for r in 0..<texts.count {
                var dot: Float = 0, na: Float = 0, nb: Float = 0
                for j in 0..<d {
                    let a = ours[r * d + j], b = reference[r * d + j]
                    maxDiff = max(maxDiff, abs(a - b)); dot += a * b; na += a * a; nb += b * b
                }
                minCosine = min(minCosine, dot / max((na * nb).squareRoot(), 1e-12))
            }
            let n = Double(texts.count)
            let name = URL(fileURLWithPath: model).lastPathComponent
            print(String(format: "%@: ours %.2f s (%.1f items/s) | sentence-transformers %.2f s (%.1f items/s) | ratio ours/ST items/s %.2f",
                         name, oursSeconds, n / oursSeconds, torchSeconds, n / torchSeconds, torchSeconds / oursSeconds))
            print(String(format: "  max |ours − ST| %.2e, min cosine %.7f; est. %d items: ours %.0f s, ST %.0f s",
                         maxDiff, minCosine, estimateItems, oursSeconds / n * Double(estimateItems), torchSeconds / n * Double(estimateItems)))
        }
    }

    private var scriptPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/bench_text.py").standardized.path
    }

    /// Non-empty titles in item-index order (the items `embed-text --fields title` embeds).
    private func titles() throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: items))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else {
            throw ValidationError("\(items): expected an object of item index → fields")
        }
        return object.keys.compactMap(Int.init).sorted().compactMap { key in
            guard let title = object[String(key)]?["title"] as? String, !title.allSatisfy(\.isWhitespace) else { return nil }
            return title
        }
    }
}

/// Row-by-row cosine between two embedding files matched by id (e.g. `embed-text` output vs a published
/// `*.text-mpnet.npy`): min, mean, the worst rows and the ids only one side has.
struct TextCheck: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "text-check",
        abstract: "Cosine per item between two .npy embedding files matched by their ids files.")

    @Option(help: "Our .npy.") var ours: String
    @Option(help: "Its ids file (default: .npy replaced by .ids.txt).") var oursIds: String?
    @Option(help: "Reference .npy.") var reference = "../shared/datasets/amazon14-beauty/Beauty.text-mpnet.npy"
    @Option(help: "Its ids file (default: .npy replaced by .ids.txt).") var referenceIds: String?
    @Option(help: "Fail (exit 1) when any matched row's cosine is below this.") var minimum: Float = 0.9999

    func run() throws {
        let a = try NpyFile.readMatrix(ours), b = try NpyFile.readMatrix(reference)
        let idsA = try readLines(oursIds ?? String(ours.dropLast(4)) + ".ids.txt")
        let idsB = try readLines(referenceIds ?? String(reference.dropLast(4)) + ".ids.txt")
        guard idsA.count == a.rows, idsB.count == b.rows, a.columns == b.columns else {
            throw ValidationError("shapes: ours \(a.rows)×\(a.columns) with \(idsA.count) ids, reference \(b.rows)×\(b.columns) with \(idsB.count) ids")
        }
        let rowOfB = Dictionary(idsB.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        var cosines: [(Float, String)] = []
        for (r, id) in idsA.enumerated() {
            guard let s = rowOfB[id] else { continue }
            let x = a.row(r), y = b.row(s)
            var dot: Float = 0, nx: Float = 0, ny: Float = 0
            for j in 0..<a.columns { dot += x[j] * y[j]; nx += x[j] * x[j]; ny += y[j] * y[j] }
            cosines.append((dot / max((nx * ny).squareRoot(), 1e-12), id))
        }
        let onlyReference = Set(idsB).subtracting(idsA).sorted()
        let mean = cosines.reduce(0) { $0 + Double($1.0) } / Double(max(1, cosines.count))
        let worst = cosines.sorted { $0.0 < $1.0 }
        print(String(format: "%d rows matched by id: cosine min %.7f, mean %.7f; %d below %.4f", cosines.count, worst.first?.0 ?? 0,
                     mean, cosines.filter { $0.0 < minimum }.count, minimum))
        print("worst: " + worst.prefix(5).map { String(format: "%@ %.6f", $0.1, $0.0) }.joined(separator: ", "))
        print("ids only in the reference (\(onlyReference.count)): \(onlyReference.prefix(20).joined(separator: " "))")
        if (worst.first?.0 ?? 0) < minimum { throw ExitCode(1) }
    }

    private func readLines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    }
}

private extension Duration {
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

import ArgumentParser
import BinaryFiles
import Catalog
import Quantization
import Datasets
import Foundation
import TensorEngine
import TextEncoding

/// `embed-text`: item text → sentence embeddings with a Hugging Face / sentence-transformers model directory (BERT
/// family or MPNet), written as the `.npy` + ids pair that `quantize --modality text` reads. No Python involved.
struct EmbedTextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed-text",
        abstract: "Embed every item's text with a sentence-transformers model directory (BERT family, MPNet).",
        discussion: """
            The model directory holds config.json, tokenizer.json (or vocab.txt), model.safetensors and, from
            sentence-transformers, modules.json and 1_Pooling/config.json (pooling and normalisation follow them).
            Writes FILE.npy (float32, one row per item that has text, in the work directory's item order) and the
            external id of every row to --ids-out (default FILE with .ids.txt). Items whose chosen fields are all
            empty get no row: quantize marks them as lacking the text modality. Then:
              mscgrec-trainer quantize --data WORK --modality text --embeddings FILE.npy --ids FILE.ids.txt
            """)

    @Option(help: "Work directory written by `prepare`.")
    var data: String

    @Option(help: "Model directory (e.g. all-mpnet-base-v2).")
    var model: String

    @Option(help: "Item fields to embed, comma-separated, joined by a space when non-empty: title, brand, categories, description.")
    var fields = "title,brand,categories,description"

    @Option(help: "Text template instead of --fields, e.g. \"{title}. Brand: {brand}\" ({{ and }} for braces).")
    var template: String?

    @Option(help: "Output .npy file.")
    var out: String

    @Option(help: "Output ids file (default: --out with .ids.txt instead of .npy).")
    var idsOut: String?

    @Option(help: "Truncate to at most this many tokens, special tokens included (default: the model's max_seq_length).")
    var maxLength: Int?

    @Option(help: "Texts per batch (batches are formed from texts of similar length).")
    var batchSize = 32

    @Option(help: "Worker threads (default: every core).")
    var threads: Int?

    @Flag(help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard out.lowercased().hasSuffix(".npy") else { throw ValidationError("--out must name a .npy file") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let maxLength, maxLength < 3 { throw ValidationError("--max-length must be at least 3") }
    }

    var idsPath: String { idsOut ?? String(out.dropLast(4)) + ".ids.txt" }

    func run() throws {
        let start = ContinuousClock.now
        let progress = ProgressLog(quiet: quiet, start: start)
        let textTemplate: ItemTextTemplate
        do {
            textTemplate = try template.map { try ItemTextTemplate(template: $0) }
                ?? ItemTextTemplate(fields: fields.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        } catch { throw ValidationError("\(error)") }

        let work = URL(fileURLWithPath: data)
        let catalogURL = WorkDirectory.catalogURL(work)
        guard FileManager.default.fileExists(atPath: catalogURL.path) else {
            throw TextEncodingError.missingFile(path: catalogURL.path, hint: "no item catalog; run `mscgrec-trainer prepare` first")
        }
        var ids: [String] = [], texts: [String] = []
        var missing = 0
        let catalog = try ItemCatalog.open(at: catalogURL)
        try catalog.forEachItem { item in
            let text = textTemplate.text { field in
                switch field {
                case "title": return item.title
                case "brand": return item.brand
                case "categories": return item.categories
                default: return item.description
                }
            }
            guard let text else { missing += 1; return }
            ids.append(item.externalID)
            texts.append(text)
        }
        progress.log("\(texts.count) items with text, \(missing) without (no row: they lack the text modality)")

        var encoder = try SentenceEncoder.load(model)
        if let maxLength { encoder.tokenizer.maxLength = min(encoder.tokenizer.maxLength, maxLength) }
        progress.log("model \(model): \(encoder.encoder.config.architecture.rawValue), \(encoder.encoder.config.layers) layers, "
                     + "width \(encoder.dimension), max \(encoder.tokenizer.maxLength) tokens, \(encoder.pipeline.pooling.rawValue) pooling"
                     + (encoder.pipeline.normalize ? ", L2-normalised" : ""))
        var tokenized = texts.map(encoder.tokenizer.encode)
        // Text that normalises to nothing (only control or format characters) under a tokenizer without special
        // tokens has no token to embed: such an item lacks the modality too.
        let empty = Set(tokenized.indices.filter { tokenized[$0].isEmpty })
        if !empty.isEmpty {
            ids = ids.indices.filter { !empty.contains($0) }.map { ids[$0] }
            texts = texts.indices.filter { !empty.contains($0) }.map { texts[$0] }
            tokenized.removeAll { $0.isEmpty }
            progress.log("\(empty.count) more items have no token after normalisation: no row")
        }
        let tokens = tokenized.reduce(0) { $0 + $1.count }
        progress.log("tokenised \(tokens) tokens (\(String(format: "%.1f", Double(tokens) / Double(max(1, texts.count)))) per item)")

        let workers = threads ?? Parallelism.workers
        let meter = RateMeter(total: texts.count, log: progress.log, quiet: quiet)
        let embedStart = ContinuousClock.now
        let rows = encoder.embed(tokenized: tokenized, options: BatchOptions(batchSize: batchSize, workers: workers),
                                 progress: { meter.update($0) })
        let seconds = (ContinuousClock.now - embedStart).seconds

        let matrix = FloatMatrix(rows: texts.count, columns: encoder.dimension)
        if !rows.isEmpty { rows.withUnsafeBufferPointer { matrix.pointer.update(from: $0.baseAddress!, count: rows.count) } }
        try NpyFile.write(matrix, to: URL(fileURLWithPath: out))
        try writeAtomically(Data((ids.joined(separator: "\n") + (ids.isEmpty ? "" : "\n")).utf8), to: URL(fileURLWithPath: idsPath))
        progress.finish(String(format: "embedded %d items in %.2f s (%.1f items/s, %d threads), wrote %@ and %@",
                               texts.count, seconds, Double(texts.count) / max(seconds, 1e-9), workers, out, idsPath))
    }
}

/// A progress line at most every two seconds: items done, items/s, ETA.
final class RateMeter: @unchecked Sendable {
    // @unchecked: `lastReport` is read and written under `lock`.
    private let lock = NSLock()
    private let start = ContinuousClock.now
    private var lastReport = ContinuousClock.now
    let total: Int
    let log: (String) -> Void
    let quiet: Bool

    init(total: Int, log: @escaping (String) -> Void, quiet: Bool) {
        self.total = total
        self.log = log
        self.quiet = quiet
    }

    func update(_ done: Int) {
        guard !quiet else { return }
        lock.lock(); defer { lock.unlock() }
        let now = ContinuousClock.now
        guard now - lastReport >= .seconds(2) || done == total else { return }
        lastReport = now
        let elapsed = (now - start).seconds
        let rate = Double(done) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        log(String(format: "embedded %d/%d items, %.1f items/s, ETA %.0f s", done, total, rate, eta))
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

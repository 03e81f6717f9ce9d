import Foundation
import TensorEngine

/// A sentence-transformers model run end to end: text → ids → encoder → pooling → (L2 normalisation).
public struct SentenceEncoder: Sendable {
    /// Mutable so a caller can truncate shorter than the model's own max_seq_length.
    public var tokenizer: TextTokenizer
    public let encoder: TransformerEncoder
    public let pipeline: SentencePipeline

    public var dimension: Int { encoder.config.hiddenSize }

    public init(tokenizer: TextTokenizer, encoder: TransformerEncoder, pipeline: SentencePipeline) {
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.pipeline = pipeline
    }

    /// Loads a model directory: config.json, tokenizer.json or vocab.txt, model.safetensors, and the
    /// sentence-transformers files (modules.json, 1_Pooling/config.json, sentence_bert_config.json) when present.
    public static func load(_ path: String) throws -> SentenceEncoder {
        let directory = try ModelDirectory(path)
        let encoder = try TransformerEncoder.load(directory)
        let pipeline = try SentencePipeline.load(directory)
        var maxLength = encoder.config.positionLimit
        if let st = pipeline.maxSequenceLength {
            maxLength = min(maxLength, st)
        } else if let t = try directory.json("tokenizer_config.json", required: false), let m = try? t.int("model_max_length"), m > 0 {
            maxLength = min(maxLength, m)
        }
        let tokenizer = try TextTokenizer.load(from: directory, maxLength: maxLength)
        // Every id the tokenizer can emit must index the embedding table (a tokenizer from another model would not).
        let emitted = Array(tokenizer.wordPiece.vocabulary.values) + tokenizer.addedTokens.map(\.id)
            + tokenizer.prefixIDs + tokenizer.suffixIDs + [tokenizer.padID, tokenizer.wordPiece.unknownID]
        if let bad = emitted.first(where: { $0 < 0 || Int($0) >= encoder.config.vocabularySize }) {
            throw TextEncodingError.malformed(path: directory.file("config.json").path, field: "vocab_size",
                                              reason: "the tokenizer emits id \(bad), beyond vocab_size \(encoder.config.vocabularySize)")
        }
        return SentenceEncoder(tokenizer: tokenizer, encoder: encoder, pipeline: pipeline)
    }

    /// Embeds `texts` (row i of the result is text i): tokenised, then run in batches of similar length.
    public func embed(_ texts: [String], options: BatchOptions = BatchOptions(), progress: (@Sendable (Int) -> Void)? = nil) -> [Float] {
        embed(tokenized: texts.map(tokenizer.encode), options: options, progress: progress)
    }

    /// Embeds already tokenised texts (each with its special tokens, within the maximum length). A text with no tokens
    /// at all (possible only for a tokenizer without special tokens) gets a zero row; callers drop such items first.
    public func embed(tokenized: [[Int32]], options: BatchOptions = BatchOptions(), progress: (@Sendable (Int) -> Void)? = nil) -> [Float] {
        let n = tokenized.count, d = dimension
        let output = Storage(zeros: n * d)
        let batches = Self.batches(lengths: tokenized.map(\.count), options: options)
        let queue = BatchQueue(count: batches.count)
        let out = UncheckedPointer(output.pointer)
        // Data parallelism over whole batches: each worker runs its batches single-threaded, which keeps both cores
        // busy through the small per-layer ops too (layer norm, GELU, the attention of short titles).
        Parallelism.forEachShard(max(1, min(options.workers, batches.count))) { _ in
            while let index = queue.next() {
                let batch = batches[index]
                let rows = self.encode(batch.map { tokenized[$0] })
                for (r, item) in batch.enumerated() {
                    (out.pointer + item * d).update(from: rows + r * d, count: d)
                }
                rows.deallocate()
                if let progress { progress(queue.finished(batch.count)) }
            }
        }
        return output.array
    }

    /// Pooled (and normalised) rows of one batch, B·H floats the caller deallocates.
    func encode(_ batch: [[Int32]]) -> UnsafeMutablePointer<Float> {
        let t = batch.map(\.count).max() ?? 1
        var ids = [Int32](repeating: tokenizer.padID, count: batch.count * t)
        for (r, row) in batch.enumerated() { for (j, id) in row.enumerated() { ids[r * t + j] = id } }
        let hidden = encoder.hiddenStates(ids: ids, lengths: batch.map(\.count), paddedLength: t)
        let d = dimension
        let rows = UnsafeMutablePointer<Float>.allocate(capacity: batch.count * d)
        for (r, row) in batch.enumerated() {
            Pooling.pool(hidden.data + r * t * d, length: row.count, width: d, mode: pipeline.pooling, into: rows + r * d)
            if pipeline.normalize { Pooling.l2Normalize(rows + r * d, d) }
        }
        return rows
    }

    /// Items grouped into batches of similar length (longest first, so memory peaks early), each batch capped both in
    /// rows and in padded tokens.
    static func batches(lengths: [Int], options: BatchOptions) -> [[Int]] {
        let order = lengths.indices.sorted { lengths[$0] != lengths[$1] ? lengths[$0] > lengths[$1] : $0 < $1 }
        var batches: [[Int]] = [], current: [Int] = []
        for item in order where lengths[item] > 0 {
            let longest = current.first.map { lengths[$0] } ?? lengths[item]
            if !current.isEmpty && (current.count >= options.batchSize || (current.count + 1) * longest > options.maxTokens) {
                batches.append(current)
                current = []
            }
            current.append(item)
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }
}

public struct BatchOptions: Sendable {
    public var batchSize: Int
    /// Cap on rows × padded length, which bounds the activations of a batch of long descriptions.
    public var maxTokens: Int
    public var workers: Int

    public init(batchSize: Int = 32, maxTokens: Int = 8192, workers: Int = Parallelism.workers) {
        self.batchSize = max(1, batchSize)
        self.maxTokens = max(1, maxTokens)
        self.workers = max(1, workers)
    }
}

/// Hands out batch indices to the workers and counts finished items.
final class BatchQueue: @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = NSLock()
    private var nextIndex = 0
    private var done = 0
    let count: Int
    init(count: Int) { self.count = count }

    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard nextIndex < count else { return nil }
        nextIndex += 1
        return nextIndex - 1
    }

    func finished(_ items: Int) -> Int {
        lock.lock(); defer { lock.unlock() }
        done += items
        return done
    }
}

/// The output buffer shared by the workers; each writes only the rows of its own batch.
struct UncheckedPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}

public enum Pooling {
    /// One text's [length, width] token states (the first `length` rows of its padded block) → one vector.
    public static func pool(_ x: UnsafePointer<Float>, length: Int, width d: Int, mode: SentencePipeline.Pooling,
                            into out: UnsafeMutablePointer<Float>) {
        switch mode {
        case .cls:
            out.update(from: x, count: d)
        case .max:
            out.update(from: x, count: d)
            for i in 1..<max(length, 1) { for j in 0..<d { out[j] = max(out[j], x[i * d + j]) } }
        case .mean, .meanSqrtLength:
            for j in 0..<d { out[j] = 0 }
            for i in 0..<length { for j in 0..<d { out[j] += x[i * d + j] } }
            let divisor = mode == .mean ? Float(max(length, 1)) : Float(max(length, 1)).squareRoot()
            for j in 0..<d { out[j] /= divisor }
        }
    }

    /// torch.nn.functional.normalize: x / max(‖x‖, 1e-12).
    public static func l2Normalize(_ x: UnsafeMutablePointer<Float>, _ d: Int) {
        var sum: Float = 0
        for j in 0..<d { sum += x[j] * x[j] }
        let norm = max(sum.squareRoot(), 1e-12)
        for j in 0..<d { x[j] /= norm }
    }
}

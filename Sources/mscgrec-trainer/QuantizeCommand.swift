import ArgumentParser
import Quantization
import Foundation

/// `quantize`: one modality's embeddings (or precomputed codes) → per-item codes with a collision level, stored in
/// the work directory's catalog and codes/ files, plus the prefix tree of the full sequences (paper 3.1, 4.1).
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize one modality's item embeddings (or take precomputed codes) and add a collision level.",
        discussion: """
            Inputs (one of):
              --embeddings FILE [--ids FILE]  .npy (float16/32/64) or .safetensors (--tensor NAME, default item_embedding
                                              or the only matrix); --ids lists the external item id of each row, one per
                                              line; without it row i is the item with internal index i
              --codes INDEX.json              LC-Rec index JSON ({"<id>": ["<a_12>", "<b_7>", ...]})
            Writes WORK/codes/NAME.{codes,tree,quantizer.safetensors,quantize.json} and the catalog's codes for NAME,
            then prints the modality's code statistics. Progress goes to stderr.
            """)

    @Option(help: "Work directory written by `prepare`.")
    var data: String

    @Option(help: "Modality name (e.g. text, image, collaborative): letters, digits, '_' or '-'.")
    var modality: String

    @Option(help: "Embedding matrix, .npy or .safetensors.")
    var embeddings: String?

    @Option(help: "External item id of every embedding row, one per line.")
    var ids: String?

    @Option(help: "Tensor of a .safetensors file to read.")
    var tensor: String?

    @Option(help: "Precomputed codes, LC-Rec index JSON.")
    var codes: String?

    @Option(help: "Tokenizer: rq-kmeans (MSCGRec: residual k-means in the embedding space) or rqvae (TIGER's RQ-VAE).")
    var method = "rq-kmeans"

    @Option(help: "Residual-quantization levels (before the collision level).")
    var levels = 3

    @Option(help: "Codes per level (for --codes: the size of every given level; default the next power of two above the largest code).")
    var codebook: Int?

    @Option(help: "Size of the collision level (default: the codebook size).")
    var collisionCapacity: Int?

    @Option(help: "Random seed; the same seed gives the same codes bit for bit.")
    var seed: UInt64 = 0

    @Flag(help: "Scale every embedding to unit L2 norm first.")
    var normalize = false

    @Option(help: "Maximum Lloyd iterations per level.")
    var iterations = 20

    @Option(help: "Rows k-means trains on per level (seeded sample when there are more; default 256 per code).")
    var maxTrainingRows: Int?

    @Option(help: "Epochs of EMA refinement of all levels jointly after k-means (0: none).")
    var emaEpochs = 0

    @Option(help: "EMA decay.")
    var emaDecay = 0.99

    @Option(help: "EMA: a code whose moving usage falls below this share of the uniform usage is re-seeded.")
    var deadCodeThreshold = 0.1

    @Option(help: "RQ-VAE hidden widths, comma-separated.")
    var rqvaeHidden = "512,256,128"

    @Option(help: "RQ-VAE latent dimension.")
    var rqvaeLatent = 32

    @Option(help: "RQ-VAE training epochs.")
    var rqvaeEpochs = 50

    @Option(help: "RQ-VAE batch size.")
    var rqvaeBatch = 1024

    @Option(help: "RQ-VAE learning rate (AdamW).")
    var rqvaeLr: Float = 1e-3

    @Option(help: "RQ-VAE commitment weight β.")
    var rqvaeBeta: Float = 0.25

    @Flag(help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard (embeddings == nil) != (codes == nil) else { throw ValidationError("pass exactly one of --embeddings FILE and --codes INDEX.json") }
        if codes != nil && (ids != nil || tensor != nil) { throw ValidationError("--ids and --tensor go with --embeddings") }
        guard ["rq-kmeans", "rqvae"].contains(method) else { throw ValidationError("--method must be rq-kmeans or rqvae") }
        guard levels >= 1 else { throw ValidationError("--levels must be at least 1") }
        if let codebook, codebook < 1 { throw ValidationError("--codebook must be at least 1") }
        guard parsedHidden != nil else { throw ValidationError("--rqvae-hidden must be comma-separated positive integers") }
    }

    private var parsedHidden: [Int]? {
        let parts = rqvaeHidden.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return parts.map { $0! }
    }

    func run() throws {
        let start = ContinuousClock.now
        let progress = ProgressLog(quiet: quiet, start: start)
        let input: QuantizeRequest.Input = embeddings.map { .embeddings(path: $0, ids: ids, tensor: tensor) } ?? .codes(path: codes!)
        let method: QuantizeRequest.Method
        if self.method == "rqvae" {
            method = .rqVAE(RQVAEOptions(
                levels: levels, codebookSize: codebook ?? 256, hiddenDimensions: parsedHidden!, latentDimension: rqvaeLatent,
                beta: rqvaeBeta, learningRate: rqvaeLr, epochs: rqvaeEpochs, batchSize: rqvaeBatch, seed: seed))
        } else {
            method = .rqKMeans(RQKMeansOptions(
                levels: levels, codebookSize: codebook ?? 256, maxIterations: iterations, seed: seed, maxTrainingRows: maxTrainingRows,
                ema: emaEpochs > 0 ? EMAOptions(epochs: emaEpochs, decay: emaDecay, deadCodeThreshold: deadCodeThreshold) : nil))
        }
        let request = QuantizeRequest(
            work: URL(fileURLWithPath: data), modality: modality, input: input, method: method, normalize: normalize,
            collisionCapacity: collisionCapacity, precomputedCodebookSize: codes != nil ? codebook : nil)
        let outcome = try QuantizePipeline.run(request, progress: progress.log)
        print(outcome.statistics.table())
        let perItem = Double(outcome.tree.byteCount) / Double(max(1, outcome.tree.leafCount))
        progress.finish("quantized \(modality) in " + String(format: "%.2f s, prefix tree %d bytes (%.1f per item), peak memory %d MiB",
                                                             outcome.seconds, outcome.tree.byteCount, perItem, peakMemoryMiB()))
    }
}

import ArgumentParser
import Foundation
import Images
import Quantization
import TensorEngine
import Training

/// `image-probe`: code semantics against labels the training never saw (the image benchmark of issue 15): NMI and
/// purity of the level-1 codes and of the full prefixes, and k-NN accuracy of the quantized embedding.
struct ImageProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image-probe",
        abstract: "Measure how well an encoder's image codes capture a label column (NMI, purity, k-NN accuracy).",
        discussion: """
        Codes are the encoder's own (RQ-DINO), or with --post-hoc (automatic for --no-quantizer encoders) RQ k-means fitted \
        on the probed images' frozen embeddings; --raw-pixels quantizes the resized pixels instead (no encoder needed). \
        k-NN accuracy is leave-one-out, cosine, on the quantized embedding (the sum of each item's codewords).
        """)

    @Option(help: "Directory written by `rqdino` (not needed with --raw-pixels).") var encoder: String?
    @Option(help: "CSV with an image column (paths relative to the CSV), or a folder.") var images: String
    @Option(help: "Label column to measure against.") var label: String
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "Post-hoc RQ k-means of the frozen embeddings.") var postHoc = false
    @Flag(help: "RQ k-means on raw pixels (resized to --pixels-size²) instead of an encoder.") var rawPixels = false
    @Option(help: "Side of the resized image for --raw-pixels.") var pixelsSize = 16
    @Option(help: "Use only the first N rows.") var limit: Int?
    @Option(help: "Skip the first N rows (e.g. the images the encoder trained on).") var offset = 0
    @Option(help: "Post-hoc levels.") var levels = 3
    @Option(help: "Post-hoc codes per level.") var codebook = 256
    @Option(help: "Neighbours for k-NN accuracy.") var k = 20
    @Option(help: "CSV column with the image path.") var imageColumn = "image"
    @Option(help: "Threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Random seed of the post-hoc k-means.") var seed: UInt64 = 0

    func run() throws {
        Parallelism.setBLASThreads(threads)
        Parallelism.workers = threads
        let (all, root) = try ImageSource.list(images, imageColumn: imageColumn)
        var entries = Array(all.dropFirst(offset))
        if let limit { entries = Array(entries.prefix(limit)) }
        entries = entries.filter { !($0.fields[label] ?? "").isEmpty }
        guard !entries.isEmpty else { throw ValidationError("\(images): no rows with a value in column \"\(label)\"") }
        let loaded = ImageLoader.load(entries, resolver: ImageResolver(root: root), dropPlaceholders: false, threads: threads)
        let kept = loaded.images.indices.filter { loaded.images[$0] != nil }
        let pictures = kept.map { loaded.images[$0]! }
        var labelIDs: [String: Int] = [:]
        let labels = kept.map { i -> Int in
            let value = entries[i].fields[label]!
            if let id = labelIDs[value] { return id }
            labelIDs[value] = labelIDs.count
            return labelIDs.count - 1
        }

        let dimension: Int, embeddings: [Float], method: String
        var encoded: (codes: [Int32], quantized: [Float])? = nil
        var levelCount = levels
        if rawPixels {
            dimension = 3 * pixelsSize * pixelsSize
            embeddings = pictures.flatMap { Resampling.square($0, size: pixelsSize).normalized() }
            method = "rq-kmeans on raw pixels \(pixelsSize)x\(pixelsSize)"
        } else {
            guard let encoder else { throw ValidationError("pass --encoder DIR (or --raw-pixels)") }
            let model = try RQDINOEncoder.load(URL(fileURLWithPath: encoder))
            dimension = model.config.vit.hiddenSize
            embeddings = model.embed(pictures, threads: threads)
            if !postHoc, let q = model.quantize(embeddings) {
                encoded = q
                levelCount = model.config.quantizer!.levels
                method = "rq-dino codebooks"
            } else {
                method = "post-hoc rq-kmeans"
            }
        }
        if encoded == nil {
            let matrix = FloatMatrix(rows: pictures.count, columns: dimension, scalars: embeddings)
            let (books, _) = try RQKMeans.train(matrix, options: RQKMeansOptions(levels: levels, codebookSize: codebook, seed: seed))
            let codes = books.encode(matrix).codes
            var quantized = [Float]()
            quantized.reserveCapacity(embeddings.count)
            for row in 0..<pictures.count { quantized += books.decode(codes[(row * levels)..<((row + 1) * levels)]) }
            encoded = (codes, quantized)
        }
        let (codes, quantized) = encoded!
        let first = ClusterMetrics.prefixClusters(codes, levels: levelCount, depth: 1)
        let prefix = ClusterMetrics.prefixClusters(codes, levels: levelCount, depth: levelCount)
        let figures: [(String, Double)] = [
            ("nmi_level1", ClusterMetrics.nmi(clusters: first, labels: labels)),
            ("nmi_prefix", ClusterMetrics.nmi(clusters: prefix, labels: labels)),
            ("purity_level1", ClusterMetrics.purity(clusters: first, labels: labels)),
            ("purity_prefix", ClusterMetrics.purity(clusters: prefix, labels: labels)),
            ("knn_accuracy", ClusterMetrics.knnAccuracy(quantized, dimension: dimension, labels: labels, k: k)),
            ("knn_accuracy_unquantized", ClusterMetrics.knnAccuracy(embeddings, dimension: dimension, labels: labels, k: k)),
        ]
        if json {
            var object: [String: Any] = ["label": label, "method": method, "items": pictures.count, "classes": labelIDs.count,
                                         "distinct_level1": Set(first).count, "distinct_prefixes": Set(prefix).count]
            for (key, value) in figures { object[key] = value }
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print("\(method), \(pictures.count) images, \(labelIDs.count) classes of \(label)")
            for (key, value) in figures { print(String(format: "%-26@ %.4f", key as NSString, value)) }
        }
    }
}

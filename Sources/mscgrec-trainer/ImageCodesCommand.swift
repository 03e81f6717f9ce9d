import ArgumentParser
import Catalog
import Datasets
import Foundation
import Images
import ItemCodes
import Quantization
import SafeTensors
import TensorEngine
import Training

/// `image-codes`: the image modality of a prepared dataset. Every catalog item's image is encoded with an `rqdino`
/// encoder; its codes (the encoder's own codebooks, or post-hoc RQ k-means of the frozen embeddings) get a collision
/// level and go into the catalog as modality `image`, through the same pipeline as `quantize`.
struct ImageCodesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image-codes",
        abstract: "Encode a work directory's item images with an RQ-DINO encoder and store their codes as modality `image`.",
        discussion: """
        Image references come from the catalog: a path relative to its image_root (the dataset folder), an absolute \
        path, or a URL whose file was downloaded into --image-dir. Items without a usable image (missing, corrupt, \
        with --drop-placeholders a placeholder) are recorded as lacking the modality. Also writes \
        WORK/codes/MODALITY.embeddings.safetensors (+ .ids.txt) with the CLS embeddings.
        """)

    @Option(help: "Work directory written by `prepare`.") var data: String
    @Option(help: "Directory written by `rqdino`.") var encoder: String
    @Option(help: "Modality name.") var modality = "image"
    @Flag(help: "Post-hoc RQ k-means of the frozen embeddings instead of the encoder's own codebooks (Table 3c's baseline; automatic for --no-quantizer encoders).")
    var postHoc = false
    @Option(help: "Post-hoc levels.") var levels = 3
    @Option(help: "Post-hoc codes per level.") var codebook = 256
    @Option(help: "Folder holding downloaded images of URL references (matched by file name).") var imageDir: String?
    @Flag(help: "Treat uniform-colour and tiny images as missing.") var dropPlaceholders = false
    @Option(help: "Threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Random seed of the post-hoc k-means.") var seed: UInt64 = 0

    func run() throws {
        Parallelism.setBLASThreads(1)
        Parallelism.workers = threads
        let started = Date()
        let work = URL(fileURLWithPath: data)
        let catalog = try ItemCatalog.open(at: WorkDirectory.catalogURL(work))
        var entries: [ImageEntry] = []
        try catalog.forEachItem { entries.append(ImageEntry(id: $0.externalID, reference: $0.image ?? "")) }
        let root = try catalog.meta("image_root").map { URL(fileURLWithPath: $0) }
        let loaded = ImageLoader.load(entries, resolver: ImageResolver(root: root, downloads: imageDir.map { URL(fileURLWithPath: $0) }),
                                      dropPlaceholders: dropPlaceholders, threads: threads)
        for problem in loaded.problems.prefix(10) { stderr("no image: \(problem.message)") }
        stderr("\(loaded.usableCount) of \(entries.count) items have a usable image")
        let model = try RQDINOEncoder.load(URL(fileURLWithPath: encoder))
        let kept = loaded.images.enumerated().compactMap { $0.element == nil ? nil : $0.offset }
        let embeddings = model.embed(kept.map { loaded.images[$0]! }, threads: threads)
        stderr("embedded \(kept.count) images in " + String(format: "%.1f s", Date().timeIntervalSince(started)))
        let ids = kept.map { entries[$0].id }

        let codesDirectory = CodesDirectory.directory(work)
        try FileManager.default.createDirectory(at: codesDirectory, withIntermediateDirectories: true)
        var file = SafeTensors()
        file.add("item_embedding", shape: [kept.count, model.config.vit.hiddenSize], floats: embeddings)
        let embeddingsURL = codesDirectory.appendingPathComponent("\(modality).embeddings.safetensors")
        try file.write(to: embeddingsURL)
        let idsURL = codesDirectory.appendingPathComponent("\(modality).embeddings.ids.txt")
        try Data(ids.joined(separator: "\n").appending("\n").utf8).write(to: idsURL, options: .atomic)

        let request: QuantizeRequest
        if let (codes, _) = postHoc ? nil : model.quantize(embeddings), let options = model.config.quantizer {
            // The encoder's own codes, handed to the shared pipeline in the LC-Rec index layout.
            let letters = Array("abcdefghijklmnopqrstuvwxyz")
            var index: [String: [String]] = [:]
            for (row, id) in ids.enumerated() {
                index[id] = (0..<options.levels).map { "<\(letters[$0])_\(codes[row * options.levels + $0])>" }
            }
            let indexURL = codesDirectory.appendingPathComponent("\(modality).rqdino.index.json")
            try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys]).write(to: indexURL, options: .atomic)
            request = QuantizeRequest(work: work, modality: modality, input: .codes(path: indexURL.path),
                                      precomputedCodebookSize: options.codebookSize)
        } else {
            request = QuantizeRequest(work: work, modality: modality, input: .embeddings(path: embeddingsURL.path, ids: idsURL.path, tensor: "item_embedding"),
                                      method: .rqKMeans(RQKMeansOptions(levels: levels, codebookSize: codebook, seed: seed)))
        }
        let outcome = try QuantizePipeline.run(request) { stderr($0) }
        print(outcome.statistics.table())
        stderr("image codes written in " + String(format: "%.1f s", Date().timeIntervalSince(started)))
    }
}

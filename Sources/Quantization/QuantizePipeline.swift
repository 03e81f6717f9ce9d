import BinaryFiles
import Catalog
import Foundation
import ItemCodes
import JSONText
import SafeTensors

/// One `mscgrec-trainer quantize` run: inputs → codes with a collision level → catalog, codes file, prefix tree.
public struct QuantizeRequest: Sendable {
    public enum Input: Sendable {
        /// An embedding matrix (`.npy` / `.safetensors`), optionally with an ids file and a tensor name.
        case embeddings(path: String, ids: String?, tensor: String?)
        /// Precomputed codes in the LC-Rec index JSON layout.
        case codes(path: String)
    }

    public enum Method: Sendable {
        case rqKMeans(RQKMeansOptions)
        case rqVAE(RQVAEOptions)
    }

    public var work: URL
    public var modality: String
    public var input: Input
    public var method: Method
    /// Scale every embedding to unit L2 norm first.
    public var normalize: Bool
    /// Size of the collision level (default: the codebook size of the last quantized level).
    public var collisionCapacity: Int?
    /// Codebook size of precomputed levels (default: the next power of two above the largest code).
    public var precomputedCodebookSize: Int?

    public init(work: URL, modality: String, input: Input, method: Method = .rqKMeans(RQKMeansOptions()), normalize: Bool = false,
                collisionCapacity: Int? = nil, precomputedCodebookSize: Int? = nil) {
        self.work = work
        self.modality = modality
        self.input = input
        self.method = method
        self.normalize = normalize
        self.collisionCapacity = collisionCapacity
        self.precomputedCodebookSize = precomputedCodebookSize
    }
}

public struct QuantizeOutcome: Sendable {
    public var statistics: CodeStatistics
    public var tree: PrefixTree
    public var seconds: Double
    public var notes: [String]
}

public enum QuantizePipeline {
    public static func run(_ request: QuantizeRequest, progress: (String) -> Void = { _ in }) throws -> QuantizeOutcome {
        let clock = ContinuousClock(), start = clock.now
        try CodesDirectory.validate(modality: request.modality)
        let catalogURL = request.work.appendingPathComponent(ItemCatalog.fileName)
        guard FileManager.default.fileExists(atPath: catalogURL.path) else {
            throw CodesError.unreadable(path: catalogURL.path, reason: "no item catalog; run `mscgrec-trainer prepare` for \(request.work.path) first")
        }
        let catalog = try ItemCatalog.open(at: catalogURL, readOnly: false)
        let catalogIDs = try catalog.externalIDs()
        let itemCount = catalogIDs.count

        var notes: [String] = []
        var quantized: [Int32]  // itemCount × levels
        var present: [Bool]
        var sizes: [Int]
        var source: String
        var reconstructionError: [Double]?
        var quantizer: SafeTensors?
        switch request.input {
        case .embeddings(let path, let ids, let tensor):
            let aligned = try EmbeddingInput.load(path: path, idsPath: ids, tensorName: tensor, catalogIDs: catalogIDs)
            notes += aligned.notes
            aligned.notes.forEach { progress("note: \($0)") }
            progress("read \(path): \(aligned.matrix.rows) items × \(aligned.matrix.columns) dimensions")
            if request.normalize { aligned.matrix.normalizeRows() }
            let total = aligned.matrix.squaredNorm()
            let rowCodes: [Int32]
            switch request.method {
            case .rqKMeans(let options):
                let (codebooks, report) = try RQKMeans.train(aligned.matrix, options: options, progress: progress)
                let encoded = codebooks.encode(aligned.matrix)
                rowCodes = encoded.codes
                reconstructionError = encoded.squaredErrors.map { total > 0 ? $0 / total : 0 }
                sizes = codebooks.codebookSizes
                source = "rq-kmeans levels=\(options.levels) codebook=\(options.codebookSize) iterations=\(options.maxIterations) "
                    + "seed=\(options.seed) training_rows=\(report.trainingRows)" + (options.ema.map { " ema_epochs=\($0.epochs)" } ?? "")
                var file = SafeTensors()
                for (level, book) in codebooks.levels.enumerated() { file.add("codebook.\(level)", shape: [book.rows, book.columns], floats: book.scalars) }
                quantizer = file
            case .rqVAE(let options):
                let model = try RQVAE.train(aligned.matrix, options: options, progress: progress)
                let encoded = model.encodeAll(aligned.matrix)
                rowCodes = encoded.codes
                reconstructionError = [total > 0 ? encoded.squaredError / total : 0]
                sizes = Array(repeating: options.codebookSize, count: options.levels)
                source = "rq-vae levels=\(options.levels) codebook=\(options.codebookSize) latent=\(options.latentDimension) "
                    + "epochs=\(options.epochs) seed=\(options.seed)"
                quantizer = model.safeTensors()
            }
            if request.normalize { source += " l2-normalised" }
            let levels = sizes.count
            quantized = [Int32](repeating: 0, count: itemCount * levels)
            for (row, item) in aligned.items.enumerated() {
                for l in 0..<levels { quantized[item * levels + l] = rowCodes[row * levels + l] }
            }
            present = aligned.present
        case .codes(let path):
            let read = try LCRecIndex.read(path: path, catalogIDs: catalogIDs)
            notes += read.notes
            read.notes.forEach { progress("note: \($0)") }
            if let size = request.precomputedCodebookSize, let level = read.observedSizes.firstIndex(where: { $0 > size }) {
                throw CodesError.malformed(path: path, field: "level \(level)", reason: "code \(read.observedSizes[level] - 1) does not fit --codebook \(size)")
            }
            sizes = read.observedSizes.map { request.precomputedCodebookSize ?? nextPowerOfTwo($0) }
            quantized = read.codes
            present = read.present
            source = "precomputed:" + (path as NSString).lastPathComponent
            progress("read \(path): \(present.filter { $0 }.count) items × \(read.levels) levels")
        }

        let levels = sizes.count
        let capacity = request.collisionCapacity ?? sizes[levels - 1]
        let collision = try CollisionLevel.append(codes: quantized, levels: levels, present: present, capacity: capacity, modality: request.modality)
        progress("collision level: \(collision.collidingItems) items in shared prefixes, largest group \(collision.maxGroup)")
        let codes = ModalityCodes(modality: request.modality, levels: levels + 1, codebookSizes: sizes + [capacity], source: source,
                                  codes: collision.codes, present: present)
        let tree = try PrefixTree(codes: codes.codes, depth: codes.levels, codebookSizes: codes.codebookSizes, present: present)

        let work = request.work
        try CodesFile(codes: codes, hasCollisionLevel: true).write(to: CodesDirectory.codesURL(work, modality: request.modality))
        try tree.write(to: CodesDirectory.treeURL(work, modality: request.modality))
        if let quantizer {
            try CodesError.mapping { try writeAtomically(quantizer.serialized(), to: CodesDirectory.quantizerURL(work, modality: request.modality)) }
        }
        try catalog.write(codes: codes)
        let statistics = CodeStatistics(codes: codes, hasCollisionLevel: true, reconstructionError: reconstructionError)
        let seconds = Double((clock.now - start).components.attoseconds) * 1e-18 + Double((clock.now - start).components.seconds)
        var report = JSONObjectWriter()
        report.add("modality", request.modality)
        report.add("source", source)
        report.add("seconds", seconds)
        report.add("notes", notes)
        report.addRaw("statistics", statistics.json())
        try CodesError.mapping { try writeAtomically(Data((report.finish(pretty: true) + "\n").utf8), to: CodesDirectory.reportURL(work, modality: request.modality)) }
        progress("wrote \(CodesDirectory.directory(work).path)/\(request.modality).{codes,tree,quantize.json} and the catalog's codes")
        return QuantizeOutcome(statistics: statistics, tree: tree, seconds: seconds, notes: notes)
    }

    /// Statistics of every modality in a work directory's catalog, with the collision flag and reconstruction
    /// error from the codes files and reports `quantize` wrote (raw precomputed sets from `prepare` have neither).
    public static func statistics(work: URL) throws -> [CodeStatistics] {
        let catalogURL = work.appendingPathComponent(ItemCatalog.fileName)
        guard FileManager.default.fileExists(atPath: catalogURL.path) else {
            throw CodesError.unreadable(path: catalogURL.path, reason: "no item catalog; is \(work.path) a prepared work directory?")
        }
        let catalog = try ItemCatalog.open(at: catalogURL)
        return try catalog.modalities().compactMap { info in
            guard let codes = try catalog.codes(modality: info.modality) else { return nil }
            var collision = false
            let codesURL = CodesDirectory.codesURL(work, modality: info.modality)
            if FileManager.default.fileExists(atPath: codesURL.path) {
                let file = try CodesFile.read(from: codesURL)
                collision = file.hasCollisionLevel && file.codes == codes
            }
            return CodeStatistics(codes: codes, hasCollisionLevel: collision,
                                  reconstructionError: collision ? storedReconstructionError(work: work, modality: info.modality) : nil)
        }
    }

    static func storedReconstructionError(work: URL, modality: String) -> [Double]? {
        guard let data = try? Data(contentsOf: CodesDirectory.reportURL(work, modality: modality)),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let statistics = object["statistics"] as? [String: Any]
        else { return nil }
        return (statistics["reconstruction_error"] as? [NSNumber])?.map(\.doubleValue)
    }

    static func nextPowerOfTwo(_ value: Int) -> Int {
        var size = 1
        while size < value { size <<= 1 }
        return size
    }
}

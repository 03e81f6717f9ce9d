import Foundation
import Images
import Models
import Quantization
import SafeTensors
import TensorEngine

/// A trained image encoder as `rqdino` writes it: DIR/encoder.safetensors holds the student backbone under Hugging
/// Face `Dinov2Model` names (loadable by transformers), the quantizer's codebooks (`quantizer.codebook.<l>`, absent
/// for --no-quantizer runs) and, in its metadata, the ViT config ("config"), the RQ-DINO config ("rqdino") and the
/// square size images are encoded at; DIR/config.json repeats the ViT config and DIR/model.safetensors links to the
/// weights, so the folder is a Hugging Face model folder (checked with transformers' from_pretrained).
public struct RQDINOEncoder {
    public let backbone: VisionTransformer
    /// The trained codebooks, [K, D] per level; nil when the encoder was trained without the quantizer.
    public let codebooks: [[Float]]?
    public let config: RQDINOConfig
    public var imageSize: Int { config.globalSize }

    public static func save(_ model: RQDINOModel, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var file = model.student.safeTensors()
        if let quantizer = model.quantizer {
            for (name, shape, values) in quantizer.state() where name.hasPrefix("quantizer.codebook.") { file.add(name, shape: shape, floats: values) }
        }
        let rqdino = String(decoding: try JSONEncoder().encode(model.config), as: UTF8.self)
        file.metadata["rqdino"] = rqdino
        file.metadata["image_size"] = "\(model.config.globalSize)"
        try file.write(to: directory.appendingPathComponent("encoder.safetensors"))
        let json = try JSONSerialization.data(withJSONObject: model.config.vit.huggingFaceJSON(), options: [.sortedKeys, .prettyPrinted])
        try json.write(to: directory.appendingPathComponent("config.json"), options: .atomic)
        // model.safetensors → encoder.safetensors: `Dinov2Model.from_pretrained(DIR)` then loads the student as is
        // (the codebooks are reported as unexpected keys and ignored).
        let link = directory.appendingPathComponent("model.safetensors")
        if (try? FileManager.default.destinationOfSymbolicLink(atPath: link.path)) != "encoder.safetensors" {
            try? FileManager.default.removeItem(at: link)
            try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "encoder.safetensors")
        }
    }

    public static func load(_ directory: URL) throws -> RQDINOEncoder {
        let url = directory.appendingPathComponent("encoder.safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ViTError.malformed(path: url.path, reason: "no encoder here; train one with `mscgrec-trainer rqdino --out \(directory.path)`")
        }
        let backbone = try VisionTransformer.load(url)
        let file = try SafeTensors.read(contentsOf: url)
        guard let text = file.metadata["rqdino"], let config = try? JSONDecoder().decode(RQDINOConfig.self, from: Data(text.utf8)) else {
            throw ViTError.malformed(path: url.path, reason: "no RQ-DINO config in the metadata")
        }
        var books: [[Float]]? = nil
        if let q = config.quantizer, file.names.contains("quantizer.codebook.0") {
            books = try (0..<q.levels).map { try file.floats("quantizer.codebook.\($0)") }
        }
        return RQDINOEncoder(backbone: backbone, codebooks: books, config: config)
    }

    /// CLS embeddings of `images` (squashed to imageSize², normalised), [n × D] row-major, batches on `threads`.
    public func embed(_ images: [RGBImage], threads: Int, batchSize: Int = 64, progress: (Int) -> Void = { _ in }) -> [Float] {
        Self.embed(images, backbone: backbone, size: imageSize, threads: threads, batchSize: batchSize, progress: progress)
    }

    public static func embed(_ images: [RGBImage], backbone: VisionTransformer, size: Int, threads: Int, batchSize: Int = 64,
                             progress: (Int) -> Void = { _ in }) -> [Float] {
        let d = backbone.config.hiddenSize, n = images.count
        var out = [Float](repeating: 0, count: n * d)
        var start = 0
        while start < n {
            let end = min(n, start + batchSize * max(1, threads))
            let chunk = Array(start..<end), shards = max(1, min(threads, chunk.count))
            out.withUnsafeMutableBufferPointer { buffer in
                let target = buffer
                Parallelism.forEachShard(shards) { s in
                    let part = Array(chunk[(s * chunk.count / shards)..<((s + 1) * chunk.count / shards)])
                    guard !part.isEmpty else { return }
                    let pixels = part.flatMap { Resampling.square(images[$0], size: size).normalized() }
                    let e = RQDINOModel.embed(backbone, pixels: pixels, images: part.count, size: size)
                    let p = e.data
                    for (row, index) in part.enumerated() { for j in 0..<d { target[index * d + j] = p[row * d + j] } }
                }
            }
            start = end
            progress(start)
        }
        return out
    }

    /// Codes (n × L) and the quantized embedding (n × D) from the trained codebooks.
    public func quantize(_ embeddings: [Float]) -> (codes: [Int32], quantized: [Float])? {
        guard let codebooks, let options = config.quantizer else { return nil }
        let d = config.vit.hiddenSize, n = embeddings.count / d
        let q = EMAResidualQuantizer(options: options, dimension: d)
        try? q.restore { name in
            guard name.hasPrefix("quantizer.codebook."), let level = Int(name.split(separator: ".").last!) else { return nil }
            return codebooks[level]
        }
        let out = withoutGrad { q(Tensor(shape: [n, d], scalars: embeddings)) }
        return (out.codes, out.quantized.scalars)
    }
}

import Foundation
import SafeTensors
import TensorEngine

/// Reading and writing a ViT as a Hugging Face model folder (config.json + model.safetensors with `Dinov2Model`
/// names), so a user with real DINOv2 weights (facebook/dinov2-small) starts from them, as the paper does.
extension VisionTransformer {
    /// Name spellings accepted on load: the hub's (transformers 4.x, `attention.attention.query`) and transformers
    /// 5.x's (`attention.q_proj`). Saved files use the hub's, which both versions read.
    static let alternativeNames: [(hub: String, v5: String)] = [
        ("attention.attention.query.", "attention.q_proj."), ("attention.attention.key.", "attention.k_proj."),
        ("attention.attention.value.", "attention.v_proj."), ("attention.output.dense.", "attention.o_proj."),
    ]

    /// Loads `directory/config.json` and `directory/model.safetensors` (or a single .safetensors file with the
    /// config in its metadata under "config"). Parameters are leaves that require grad.
    public static func load(_ url: URL) throws -> VisionTransformer {
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
        let weightsURL = isDirectory.boolValue ? url.appendingPathComponent("model.safetensors") : url
        let file: SafeTensors
        do { file = try SafeTensors.read(contentsOf: weightsURL) } catch {
            throw ViTError.malformed(path: weightsURL.path, reason: "cannot read the weights (\(error))")
        }
        let configObject: [String: Any]
        let configPath: String
        if isDirectory.boolValue {
            configPath = url.appendingPathComponent("config.json").path
            guard let data = FileManager.default.contents(atPath: configPath),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ViTError.malformed(path: configPath, reason: "missing or unreadable config.json")
            }
            configObject = object
        } else {
            configPath = weightsURL.path
            guard let text = file.metadata["config"], let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw ViTError.malformed(path: configPath, reason: "no ViT config in the file's metadata (\"config\")")
            }
            configObject = object
        }
        let config = try ViTConfig.fromHuggingFace(configObject, path: configPath)
        let model = VisionTransformer(config: config, seed: 0)
        try model.assign(from: file, path: weightsURL.path)
        return model
    }

    /// Overwrites every parameter from `file` (checking each shape), with or without a "dinov2." prefix.
    public func assign(from file: SafeTensors, path: String) throws {
        let names = Set(file.names)
        let prefix = ["", "dinov2.", "model.", "backbone."].first { names.contains("\($0)embeddings.cls_token") }
        guard let prefix else { throw ViTError.malformed(path: path, reason: "no embeddings.cls_token: not a Dinov2Model checkpoint") }
        for (name, tensor) in namedParameters {
            var stored = prefix + name
            if !names.contains(stored), let pair = Self.alternativeNames.first(where: { name.contains($0.hub) }) {
                stored = prefix + name.replacingOccurrences(of: pair.hub, with: pair.v5)
            }
            guard names.contains(stored) else { throw ViTError.malformed(path: path, reason: "missing tensor \(prefix + name)") }
            let shape = try file.shape(stored)
            guard shape == tensor.shape else { throw ViTError.shapeMismatch(path: path, tensor: stored, expected: tensor.shape, found: shape) }
            let values = try file.floats(stored)
            tensor.data.update(from: values, count: values.count)
        }
    }

    /// The weights under hub names, with the HF config in the metadata.
    public func safeTensors(prefix: String = "") -> SafeTensors {
        var file = SafeTensors()
        for (name, tensor) in namedParameters { file.add(prefix + name, tensor) }
        if let data = try? JSONSerialization.data(withJSONObject: config.huggingFaceJSON(), options: [.sortedKeys]) {
            file.metadata = ["format": "pt", "config": String(decoding: data, as: UTF8.self)]
        }
        return file
    }

    /// Writes a Hugging Face model folder: config.json and model.safetensors, each to a temporary file then renamed.
    public func save(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let json = try JSONSerialization.data(withJSONObject: config.huggingFaceJSON(), options: [.sortedKeys, .prettyPrinted])
        try json.write(to: directory.appendingPathComponent("config.json"), options: .atomic)
        try safeTensors().write(to: directory.appendingPathComponent("model.safetensors"))
    }
}

import Foundation
import SafeTensors
import TensorEngine

/// One transformer layer's parameters, Hugging Face orientation ([out, in] weights: products use transposeB).
struct LayerWeights: Sendable {
    let query: Linear, key: Linear, value: Linear, attentionOutput: Linear
    let attentionNorm: Norm
    let intermediate: Linear, output: Linear
    let outputNorm: Norm
}

struct Linear: Sendable {
    let weight: Tensor   // [out, in]
    let bias: Tensor     // [out]
    func callAsFunction(_ x: Tensor) -> Tensor { linearTransposedWeight(x, weight, bias: bias) }
}

struct Norm: Sendable {
    let weight: Tensor, bias: Tensor
}

/// The encoder's parameters read from `model.safetensors`, every shape checked against the config.
struct EncoderWeights: Sendable {
    let wordEmbeddings: Tensor       // [vocab, H]
    let positionEmbeddings: Tensor   // [maxPositions, H]
    let tokenTypeEmbeddings: Tensor? // [types, H] (BERT)
    let embeddingNorm: Norm
    let layers: [LayerWeights]
    let relativeAttentionBias: Tensor? // [buckets, heads] (MPNet)

    static func load(_ directory: ModelDirectory, config: EncoderConfig) throws -> EncoderWeights {
        let url = directory.file("model.safetensors")
        guard directory.has("model.safetensors") else {
            let hint = directory.has("pytorch_model.bin") ? "only pytorch_model.bin is present; convert it to safetensors" : "the weights file"
            throw TextEncodingError.missingFile(path: url.path, hint: hint)
        }
        let file: SafeTensors
        do { file = try SafeTensors.read(contentsOf: url) } catch {
            throw TextEncodingError.unreadable(path: url.path, reason: "\(error)")
        }
        // Checkpoints saved from a task model prefix the encoder's names ("bert.", "mpnet.").
        let names = Set(file.names)
        let prefix = ["", "\(config.architecture.rawValue).", "model."].first { names.contains("\($0)embeddings.word_embeddings.weight") }
        guard let prefix else {
            throw TextEncodingError.malformed(path: url.path, field: "embeddings.word_embeddings.weight",
                                              reason: "no such tensor: not a \(config.architecture.rawValue) checkpoint")
        }
        func tensor(_ name: String, _ shape: [Int]) throws -> Tensor {
            let full = prefix + name
            guard names.contains(full) else {
                throw TextEncodingError.malformed(path: url.path, field: full, reason: "missing tensor")
            }
            let found = try file.shape(full)
            guard found == shape else { throw TextEncodingError.shapeMismatch(path: url.path, tensor: full, expected: shape, found: found) }
            do { return try file.tensor(full) } catch {
                throw TextEncodingError.malformed(path: url.path, field: full, reason: "\(error)")
            }
        }
        let h = config.hiddenSize, f = config.intermediateSize
        func linear(_ name: String, _ out: Int, _ inp: Int) throws -> Linear {
            Linear(weight: try tensor("\(name).weight", [out, inp]), bias: try tensor("\(name).bias", [out]))
        }
        func norm(_ name: String) throws -> Norm {
            Norm(weight: try tensor("\(name).weight", [h]), bias: try tensor("\(name).bias", [h]))
        }
        var layers: [LayerWeights] = []
        for i in 0..<config.layers {
            let p = "encoder.layer.\(i)."
            switch config.architecture {
            case .bert:
                layers.append(LayerWeights(
                    query: try linear(p + "attention.self.query", h, h), key: try linear(p + "attention.self.key", h, h),
                    value: try linear(p + "attention.self.value", h, h), attentionOutput: try linear(p + "attention.output.dense", h, h),
                    attentionNorm: try norm(p + "attention.output.LayerNorm"),
                    intermediate: try linear(p + "intermediate.dense", f, h), output: try linear(p + "output.dense", h, f),
                    outputNorm: try norm(p + "output.LayerNorm")))
            case .mpnet:
                layers.append(LayerWeights(
                    query: try linear(p + "attention.attn.q", h, h), key: try linear(p + "attention.attn.k", h, h),
                    value: try linear(p + "attention.attn.v", h, h), attentionOutput: try linear(p + "attention.attn.o", h, h),
                    attentionNorm: try norm(p + "attention.LayerNorm"),
                    intermediate: try linear(p + "intermediate.dense", f, h), output: try linear(p + "output.dense", h, f),
                    outputNorm: try norm(p + "output.LayerNorm")))
            }
        }
        return EncoderWeights(
            wordEmbeddings: try tensor("embeddings.word_embeddings.weight", [config.vocabularySize, h]),
            positionEmbeddings: try tensor("embeddings.position_embeddings.weight", [config.maxPositions, h]),
            tokenTypeEmbeddings: config.architecture == .bert
                ? try tensor("embeddings.token_type_embeddings.weight", [config.typeVocabularySize, h]) : nil,
            embeddingNorm: try norm("embeddings.LayerNorm"),
            layers: layers,
            relativeAttentionBias: config.architecture == .mpnet
                ? try tensor("encoder.relative_attention_bias.weight", [config.relativeBuckets, config.heads]) : nil)
    }
}

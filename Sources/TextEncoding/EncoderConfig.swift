import Foundation

/// The two encoder families we run; both are post-LayerNorm transformers with GELU MLPs and differ in the
/// embeddings (BERT: absolute positions 0…T−1 plus token type 0; MPNet: positions offset past the padding id) and in
/// MPNet's bucketed relative-position attention bias shared by every layer.
public enum EncoderArchitecture: String, Sendable {
    case bert, mpnet
}

/// What `config.json` says about the encoder.
public struct EncoderConfig: Sendable, Equatable {
    public var architecture: EncoderArchitecture
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var typeVocabularySize: Int
    public var layerNormEps: Float
    public var padTokenID: Int
    public var relativeBuckets: Int

    public var headDim: Int { hiddenSize / heads }

    /// Longest sequence the position table allows (MPNet/RoBERTa positions start after the padding id).
    public var positionLimit: Int { architecture == .mpnet ? maxPositions - padTokenID - 1 : maxPositions }

    /// BERT-family model types whose checkpoints use BERT's tensor names.
    static let bertFamily: Set<String> = ["bert"]

    public static func load(_ directory: ModelDirectory) throws -> EncoderConfig {
        let c = try directory.json("config.json", required: true)!
        let type = try c.string("model_type") ?? ""
        let architecture: EncoderArchitecture
        if bertFamily.contains(type) { architecture = .bert }
        else if type == "mpnet" { architecture = .mpnet }
        else { throw TextEncodingError.unknownArchitecture(path: c.path, found: type.isEmpty ? "(missing)" : type) }
        let act = try c.string("hidden_act") ?? "gelu"
        guard act == "gelu" else {
            throw TextEncodingError.unsupported(path: c.path, field: "hidden_act", reason: "\"\(act)\" (exact gelu only)")
        }
        if let kind = try c.string("position_embedding_type"), kind != "absolute" {
            throw TextEncodingError.unsupported(path: c.path, field: "position_embedding_type", reason: "\"\(kind)\" (absolute only)")
        }
        let config = EncoderConfig(
            architecture: architecture,
            vocabularySize: try c.requiredInt("vocab_size"),
            hiddenSize: try c.requiredInt("hidden_size"),
            layers: try c.requiredInt("num_hidden_layers"),
            heads: try c.requiredInt("num_attention_heads"),
            intermediateSize: try c.requiredInt("intermediate_size"),
            maxPositions: try c.requiredInt("max_position_embeddings"),
            typeVocabularySize: try c.int("type_vocab_size") ?? (architecture == .bert ? 2 : 0),
            layerNormEps: Float(try c.double("layer_norm_eps") ?? 1e-12),
            padTokenID: try c.int("pad_token_id") ?? (architecture == .mpnet ? 1 : 0),
            relativeBuckets: try c.int("relative_attention_num_buckets") ?? 32)
        guard config.hiddenSize > 0, config.heads > 0, config.hiddenSize % config.heads == 0 else {
            throw c.fail("num_attention_heads", "hidden_size \(config.hiddenSize) is not a multiple of \(config.heads) heads")
        }
        guard config.layers > 0, config.intermediateSize > 0, config.vocabularySize > 0, config.positionLimit > 2 else {
            throw c.fail("num_hidden_layers", "sizes must be positive")
        }
        return config
    }
}

/// sentence-transformers' pipeline after the transformer: pooling, then optional L2 normalisation.
public struct SentencePipeline: Sendable, Equatable {
    public enum Pooling: String, Sendable { case mean, cls, max, meanSqrtLength }
    public var pooling: Pooling
    public var normalize: Bool
    /// `sentence_bert_config.json`'s max_seq_length, when given.
    public var maxSequenceLength: Int?

    public init(pooling: Pooling = .mean, normalize: Bool = true, maxSequenceLength: Int? = nil) {
        self.pooling = pooling
        self.normalize = normalize
        self.maxSequenceLength = maxSequenceLength
    }

    /// A plain Hugging Face directory (no modules.json) gets mean pooling without normalisation.
    public static func load(_ directory: ModelDirectory) throws -> SentencePipeline {
        var pipeline = SentencePipeline(pooling: .mean, normalize: false)
        if let st = try directory.json("sentence_bert_config.json", required: false) {
            pipeline.maxSequenceLength = try st.int("max_seq_length")
            if try st.bool("do_lower_case") == true {
                throw st.fail("do_lower_case", "true is not supported (the tokenizer's own lower-casing is)")
            }
        }
        let modulesPath = directory.file("modules.json").path
        guard directory.has("modules.json") else { return pipeline }
        let data: Data
        do { data = try Data(contentsOf: directory.file("modules.json")) } catch {
            throw TextEncodingError.unreadable(path: modulesPath, reason: error.localizedDescription)
        }
        guard let modules = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else {
            throw TextEncodingError.malformed(path: modulesPath, field: "(file)", reason: "expected a JSON array of modules")
        }
        for (i, module) in modules.enumerated() {
            let type = (module["type"] as? String) ?? ""
            let path = (module["path"] as? String) ?? ""
            switch type.split(separator: ".").last.map(String.init) ?? "" {
            case "Transformer": continue
            case "Normalize": pipeline.normalize = true
            case "Pooling":
                let p = try directory.json(path.isEmpty ? "config.json" : "\(path)/config.json", required: true,
                                           hint: "modules.json lists a Pooling module there")!
                // sentence-transformers ≥ 6 writes one "pooling_mode" string; older versions one flag per mode.
                if let mode = try p.string("pooling_mode") {
                    switch mode {
                    case "mean": pipeline.pooling = .mean
                    case "cls": pipeline.pooling = .cls
                    case "max": pipeline.pooling = .max
                    case "mean_sqrt_len_tokens", "mean_sqrt_len": pipeline.pooling = .meanSqrtLength
                    default: throw p.fail("pooling_mode", "\"\(mode)\" is not supported (mean, cls, max, mean_sqrt_len_tokens)")
                    }
                } else if try p.bool("pooling_mode_cls_token") == true { pipeline.pooling = .cls }
                else if try p.bool("pooling_mode_max_tokens") == true { pipeline.pooling = .max }
                else if try p.bool("pooling_mode_mean_sqrt_len_tokens") == true { pipeline.pooling = .meanSqrtLength }
                else if try p.bool("pooling_mode_mean_tokens") == true { pipeline.pooling = .mean }
                else { throw p.fail("pooling_mode_*", "no supported pooling mode is set") }
            default:
                throw TextEncodingError.unsupported(path: modulesPath, field: "[\(i)].type", reason: "module \(type) is not supported (Transformer, Pooling, Normalize)")
            }
        }
        return pipeline
    }
}

import Foundation
import MSCCore

/// What `mscgrec-trainer run --config FILE` reads: one dataset, how to get each modality's codes, the SASRec baseline,
/// and the generative models to train and compare (each a `train --config` object). Dataset paths are relative to the
/// datasets root (`--datasets`, default ../shared/datasets); `work` is relative to the current directory.
public struct PipelineConfig: Codable, Equatable, Sendable {
    public struct Dataset: Codable, Equatable, Sendable {
        /// `prepare --format` (lcrec, recbole, csv, amazon2023).
        public var format: String
        /// `prepare --input`, under the datasets root.
        public var input: String
        public var name: String?
        /// Further `prepare` flags (e.g. ["--item-metadata", "ml100k-posters/ml100k.item.json"]); paths in them stay
        /// as written, so give them relative to the datasets root with `{datasets}/…`.
        public var options: [String]?
    }

    public struct Modality: Codable, Equatable, Sendable {
        public var name: String
        /// "sasrec" takes the SASRec stage's item embeddings (the collaborative modality).
        public var from: String?
        /// `.npy`/`.safetensors` under the datasets root, with its `ids` file.
        public var embeddings: String?
        public var ids: String?
        /// LC-Rec index JSON of precomputed codes, under the datasets root.
        public var codes: String?
        /// Images (a folder, or a CSV with an image column) under the datasets root to train an RQ-DINO encoder on;
        /// the items' own images, named by the catalog, are then encoded into this modality's codes (`image-codes`).
        public var images: String?
        /// Further `rqdino` flags for `images`, e.g. ["--epochs", "30"] or ["--no-quantizer"] (Table 3c's baseline).
        public var encoder: [String]?
        /// Further `quantize` flags, e.g. ["--method", "rqvae"] (for `images`: `image-codes` flags).
        public var options: [String]?
    }

    public struct Model: Codable, Equatable, Sendable {
        /// The row's name in the table (also its directory under WORK/models, lower-cased).
        public var name: String
        /// A `train --config` object; `model.modalities` is required here so rows do not pick up each other's codes.
        public var config: CodableJSON
        /// Also compute the exact Shapley value of every input modality (the model should be masking-trained).
        public var shapley: Bool?
    }

    public var work: String
    public var dataset: Dataset
    /// Further `sasrec` flags (the defaults are the README's SASRec-CE run).
    public var sasrec: [String]?
    public var modalities: [Modality]
    public var models: [Model]

    public static func decode(_ data: Data, source: String) throws -> PipelineConfig {
        let config: PipelineConfig
        do { config = try JSONDecoder().decode(PipelineConfig.self, from: data) } catch let error as DecodingError {
            throw ConfigError("\(source): \(Self.describe(error))")
        }
        try config.validate(source: source)
        return config
    }

    func validate(source: String) throws {
        var seen = Set<String>()
        for m in modalities {
            guard seen.insert(m.name).inserted else { throw ConfigError("\(source): modalities: \"\(m.name)\" appears twice") }
            let inputs = [m.from != nil, m.embeddings != nil, m.codes != nil, m.images != nil].filter { $0 }.count
            guard inputs == 1 else {
                throw ConfigError("\(source): modality \"\(m.name)\": give exactly one of \"from\": \"sasrec\", \"embeddings\", \"codes\" or \"images\"")
            }
            if m.encoder != nil, m.images == nil {
                throw ConfigError("\(source): modality \"\(m.name)\": \"encoder\" (rqdino flags) needs \"images\"")
            }
            if let from = m.from, from != "sasrec" {
                throw ConfigError("\(source): modality \"\(m.name)\": \"from\" must be \"sasrec\", not \"\(from)\"")
            }
        }
        var names = Set<String>()
        for model in models {
            guard names.insert(model.slug).inserted else { throw ConfigError("\(source): models: \"\(model.name)\" appears twice") }
            guard case .object(let object) = model.config, case .object(let inner)? = object["model"],
                  case .array(let listed)? = inner["modalities"] else {
                throw ConfigError("\(source): model \"\(model.name)\": config.model.modalities must list its input modalities")
            }
            for case .string(let name) in listed where !seen.contains(name) {
                throw ConfigError("\(source): model \"\(model.name)\": modality \"\(name)\" is not in \"modalities\" (known: \(seen.sorted().joined(separator: ", ")))")
            }
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "top level" : "field \(p)"
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "\(path(context)): missing field \"\(key.stringValue)\""
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return "\(path(context)) must be \(type)"
        case .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

extension PipelineConfig.Model {
    /// Directory name under WORK/models: lower-case letters, digits and '-'.
    public var slug: String {
        let mapped = name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        return String(mapped).split(separator: "-").joined(separator: "-")
    }
}

/// A JSON value kept as written, so a model row's `train` config can be stored, hashed and handed on unchanged.
public indirect enum CodableJSON: Codable, Equatable, Sendable {
    case null, bool(Bool), number(Double), string(String), array([CodableJSON]), object([String: CodableJSON])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([CodableJSON].self) { self = .array(a) }
        else { self = .object(try c.decode([String: CodableJSON].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Sorted keys, no spaces: equal values give equal bytes (the stage cache compares them).
    public func canonicalData() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }
}

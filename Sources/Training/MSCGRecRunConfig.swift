import Catalog
import ItemCodes
import Datasets
import Foundation
import Models
import MSCCore
import SafeTensors

/// The file `train --config FILE` reads: model settings (modalities by name, resolved against the work directory's
/// catalog) and training options. Every field is optional and falls back to the default shown by `MSCGRecRunConfig()`;
/// an unknown field or a wrong type is an error naming it.
public struct MSCGRecRunConfig: Codable, Equatable, Sendable {
    public struct Model: Codable, Equatable, Sendable {
        /// Input modalities in stacking order; nil: every modality with codes in the catalog (text, image, collaborative
        /// first, then the others by name).
        public var modalities: [String]?
        public var targetModality = "collaborative"
        /// nil: the work directory's maximum history.
        public var maxHistory: Int?
        public var transformer = MSCGRecConfig.defaultTransformer
        public var positionBias = MSCGRecConfig.PositionBias.split
        public var itemBuckets = 16
        public var softmax = MSCGRecConfig.Softmax.constrained
        public var maskProbability: Float = 0
        /// nil: off (the paper's model); see `MSCGRecConfig.prefixBuckets`.
        public var prefixBuckets: Int?
        /// nil or false: off; see `MSCGRecConfig.decoderPrefixes`.
        public var decoderPrefixes: Bool?
        /// nil or false: off; see `MSCGRecConfig.prefixLogits`.
        public var prefixLogits: Bool?
        public init() {}
    }
    public var model = Model()
    public var training = MSCGRecTrainingOptions()
    public init() {}

    /// Fields that may appear although the defaults leave them out.
    static let optionalKeys: Set<String> = [
        "model.modalities", "model.maxHistory", "model.prefixBuckets", "model.decoderPrefixes", "model.prefixLogits",
        "training.targetsPerUser", "training.distillation", "training.validationUsers",
    ]

    /// Reads `data` (JSON) over the defaults.
    public static func decode(_ data: Data, source: String) throws -> MSCGRecRunConfig {
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data) } catch {
            throw ConfigError("\(source): not valid JSON (\(error.localizedDescription))")
        }
        guard let user = parsed as? [String: Any] else { throw ConfigError("\(source): the top level must be a JSON object") }
        let defaults = try JSONSerialization.jsonObject(with: JSONEncoder().encode(MSCGRecRunConfig())) as? [String: Any] ?? [:]
        var merged = try merge(defaults, user, path: "", source: source)
        // The one default that depends on another field: a distilled run stops on ranking (see `earlyStopping`).
        let userTraining = user["training"] as? [String: Any] ?? [:]
        if userTraining["earlyStopping"] == nil, userTraining["distillation"] != nil, var training = merged["training"] as? [String: Any] {
            training["earlyStopping"] = MSCGRecTrainingOptions.EarlyStopping.ndcg.rawValue
            merged["training"] = training
        }
        do {
            return try JSONDecoder().decode(MSCGRecRunConfig.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            throw ConfigError("\(source): field \(context.codingPath.map(\.stringValue).joined(separator: ".")) must be \(type)")
        } catch let DecodingError.dataCorrupted(context) {
            throw ConfigError("\(source): field \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)")
        }
    }

    private static func merge(_ base: [String: Any], _ user: [String: Any], path: String, source: String) throws -> [String: Any] {
        var out = base
        for (key, value) in user {
            let field = path.isEmpty ? key : "\(path).\(key)"
            guard base[key] != nil || optionalKeys.contains(field) else {
                throw ConfigError("\(source): unknown field \(field) (known: \(base.keys.sorted().joined(separator: ", ")))")
            }
            if let nested = value as? [String: Any], let baseNested = base[key] as? [String: Any] {
                out[key] = try merge(baseNested, nested, path: field, source: source)
            } else {
                out[key] = value
            }
        }
        return out
    }

    /// The model configuration for a work directory whose catalog holds `available` code sets.
    public func resolve(available: [ModalityInfo], datasetMaxHistory: Int) throws -> MSCGRecConfig {
        let byName = Dictionary(available.map { ($0.modality, $0) }, uniquingKeysWith: { a, _ in a })
        let preferred = ["text", "image", "collaborative"]
        let names = model.modalities ?? (preferred.filter { byName[$0] != nil }
                                         + byName.keys.filter { !preferred.contains($0) }.sorted())
        let modalities = try names.map { name -> MSCGRecConfig.Modality in
            guard let info = byName[name] else {
                throw ConfigError("model.modalities: the catalog has no codes for \"\(name)\" (available: \(byName.keys.sorted().joined(separator: ", "))); run `mscgrec-trainer quantize --modality \(name)` first")
            }
            return MSCGRecConfig.Modality(name: name, codebookSizes: info.codebookSizes)
        }
        let config = MSCGRecConfig(modalities: modalities, targetModality: model.targetModality,
                                   maxHistory: model.maxHistory ?? datasetMaxHistory, transformer: model.transformer,
                                   positionBias: model.positionBias, itemBuckets: model.itemBuckets, softmax: model.softmax,
                                   maskProbability: model.maskProbability, prefixBuckets: model.prefixBuckets,
                                   decoderPrefixes: model.decoderPrefixes ?? false, prefixLogits: model.prefixLogits ?? false)
        try config.validate()
        return config
    }
}

/// What `RUN/config.json` holds: the resolved model configuration and the training options that produced the run.
public struct MSCGRecRunRecord: Codable, Equatable, Sendable {
    public var model: MSCGRecConfig
    public var training: MSCGRecTrainingOptions
    public var dataset: String
    public var items: Int
    /// The work directory trained on (absolute path), which `evaluate` reads the splits and codes from (nil in runs
    /// written before it was recorded).
    public var workDirectory: String?
    /// The SASRec runs distilled from (absolute paths; empty without `training.distillation`). Stored as `teacher`
    /// when there is one (as runs before ensembles were), `teachers` when several.
    public var teachers: [String]
    public init(model: MSCGRecConfig, training: MSCGRecTrainingOptions, dataset: String, items: Int, workDirectory: String?,
                teachers: [String] = []) {
        self.model = model; self.training = training; self.dataset = dataset; self.items = items; self.workDirectory = workDirectory
        self.teachers = teachers
    }

    enum CodingKeys: String, CodingKey { case model, training, dataset, items, workDirectory, teacher, teachers }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(MSCGRecConfig.self, forKey: .model)
        training = try c.decode(MSCGRecTrainingOptions.self, forKey: .training)
        dataset = try c.decode(String.self, forKey: .dataset)
        items = try c.decode(Int.self, forKey: .items)
        workDirectory = try c.decodeIfPresent(String.self, forKey: .workDirectory)
        teachers = try c.decodeIfPresent([String].self, forKey: .teachers) ?? (c.decodeIfPresent(String.self, forKey: .teacher).map { [$0] } ?? [])
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(training, forKey: .training)
        try c.encode(dataset, forKey: .dataset)
        try c.encode(items, forKey: .items)
        try c.encodeIfPresent(workDirectory, forKey: .workDirectory)
        if teachers.count == 1 { try c.encode(teachers[0], forKey: .teacher) } else if !teachers.isEmpty { try c.encode(teachers, forKey: .teachers) }
    }
}

public enum MSCGRecWorkData {
    /// The catalog's code sets of a work directory (what `quantize` wrote).
    public static func availableModalities(work: URL) throws -> [ModalityInfo] {
        try ItemCatalog.open(at: WorkDirectory.catalogURL(work)).modalities()
    }

    /// Every item's tokens for `config`'s modalities and the target modality's prefix tree, from the work directory's
    /// catalog; codebook sizes must be the ones the config was built with.
    public static func load(work: URL, config: MSCGRecConfig) throws -> (items: ItemTokens, tree: PrefixTree) {
        let catalog = try ItemCatalog.open(at: WorkDirectory.catalogURL(work))
        var sets: [ModalityCodes] = []
        for m in config.modalities {
            guard let codes = try catalog.codes(modality: m.name) else {
                throw ConfigError("\(catalog.path): no codes for modality \"\(m.name)\" (run `mscgrec-trainer quantize --modality \(m.name)`)")
            }
            guard codes.codebookSizes == m.codebookSizes else {
                throw ConfigError("\(catalog.path): modality \"\(m.name)\" has codebook sizes \(codes.codebookSizes), the model config \(m.codebookSizes) (codes were re-quantized after training?)")
            }
            sets.append(codes)
        }
        let layout = TokenLayout(config)
        let items = try ItemTokens(layout: layout, modalities: sets.map { ($0.codes, $0.present) })
        let target = sets[layout.targetIndex]
        let tree = try PrefixTree(codes: target.codes, depth: target.levels, codebookSizes: target.codebookSizes, present: target.present)
        return (items, tree)
    }
}

/// A `train` run directory loaded for evaluation: its record, the work directory's splits and codes, and the model.
public struct TrainedRun {
    public var record: MSCGRecRunRecord
    public var work: URL
    public var dataset: PreparedDataset
    public var model: MSCGRec
    public var items: ItemTokens
    public var tree: PrefixTree

    /// `workDirectory` overrides the one the run names (runs written before it was recorded name none).
    public static func load(_ run: URL, workDirectory: String? = nil) throws -> TrainedRun {
        let recordURL = run.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: recordURL.path) else {
            throw ConfigError("\(run.path) has no config.json (not a `train` run directory)")
        }
        let record: MSCGRecRunRecord
        do { record = try JSONDecoder().decode(MSCGRecRunRecord.self, from: data) } catch {
            throw ConfigError("\(recordURL.path): not a run record (\(error))")
        }
        guard let workPath = workDirectory ?? record.workDirectory else {
            throw ConfigError("\(recordURL.path) does not name its work directory: pass --data")
        }
        let work = URL(fileURLWithPath: workPath)
        let dataset = try WorkDirectory.load(work)
        let weights = try SafeTensors.read(contentsOf: run.appendingPathComponent("model.safetensors"))
        let model = try MSCGRec(record.model, weights: weights)
        let (items, tree) = try MSCGRecWorkData.load(work: work, config: record.model)
        return TrainedRun(record: record, work: work, dataset: dataset, model: model, items: items, tree: tree)
    }
}

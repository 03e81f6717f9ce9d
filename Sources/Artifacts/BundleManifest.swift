import Foundation
import Models

/// `manifest.json` of a bundle: the contract between `mscgrec-trainer export` and `mscgrec-server`. It carries the
/// model config (the single source of shapes), what the codes look like, where the data came from, and the size and
/// SHA-256 of every other file, so the server can refuse a corrupt or mismatched bundle before serving from it.
public struct BundleManifest: Codable, Equatable, Sendable {
    public static let currentFormatVersion = 1
    public static let fileName = "manifest.json"
    public static let weightsFile = "model.safetensors"
    public static let catalogFile = "catalog.sqlite"

    public struct Dataset: Codable, Equatable, Sendable {
        public var name: String
        public var items: Int
        public var users: Int
        public init(name: String, items: Int, users: Int) { self.name = name; self.items = items; self.users = users }
    }

    /// One modality's codes: levels (the last being the collision level) and codebook sizes.
    public struct CodeLayout: Codable, Equatable, Sendable {
        public var modality: String
        public var levels: Int
        public var codebookSizes: [Int]
        /// Codebooks of its quantizer, when it had any (precomputed codes have none).
        public var codebooks: String?
    }

    public struct FileEntry: Codable, Equatable, Sendable {
        public var size: Int64
        public var sha256: String
    }

    public var formatVersion: Int
    /// Directory name under the bundle root, e.g. `20261201T150405Z-beauty-3fa9c1`.
    public var version: String
    public var model: MSCGRecConfig
    public var modalities: [String]
    public var targetModality: String
    public var codes: [CodeLayout]
    /// The target modality's prefix tree file.
    public var prefixTree: String
    public var dataset: Dataset
    public var trainerVersion: String
    /// ISO 8601, UTC.
    public var createdAt: String
    /// Every file of the bundle except the manifest, by path relative to the bundle directory.
    public var files: [String: FileEntry]
}

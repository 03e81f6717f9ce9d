import Foundation
import ItemCodes
import Models

/// What `export` puts into a bundle.
public struct BundleSources: Sendable {
    public var config: MSCGRecConfig
    public var weights: URL
    public var catalog: URL
    /// The target modality's prefix tree (built from the same catalog).
    public var tree: PrefixTree
    /// Quantizer codebooks per modality, where the codes came from a quantizer.
    public var codebooks: [String: URL]
    public var dataset: BundleManifest.Dataset
    public var trainerVersion: String

    public init(config: MSCGRecConfig, weights: URL, catalog: URL, tree: PrefixTree, codebooks: [String: URL],
                dataset: BundleManifest.Dataset, trainerVersion: String) {
        self.config = config; self.weights = weights; self.catalog = catalog; self.tree = tree
        self.codebooks = codebooks; self.dataset = dataset; self.trainerVersion = trainerVersion
    }
}

/// Publishes bundles under a root directory:
///
///     ROOT/<version>/manifest.json, model.safetensors, catalog.sqlite, <target>.tree, codebooks/<modality>.safetensors
///     ROOT/current -> <version>        (a relative symlink)
///
/// A bundle is assembled in `ROOT/.staging-<version>`, every file and the directory fsynced, then renamed into place;
/// `current` is switched by renaming a fresh symlink over it. A crash at any point leaves the previous `current`
/// pointing at a complete bundle; what is left is a staging directory, removed by the next publish.
public enum BundlePublisher {
    public static let currentLink = "current"

    @discardableResult
    public static func publish(_ sources: BundleSources, root: URL, keep: Int? = nil, now: Date = Date()) throws -> URL {
        let manager = FileManager.default
        try manager.createDirectory(at: root, withIntermediateDirectories: true)
        removeAbandonedStaging(root)
        let version = versionName(dataset: sources.dataset.name, now: now)
        let staging = root.appendingPathComponent(".staging-\(version)")
        try? manager.removeItem(at: staging)
        try manager.createDirectory(at: staging, withIntermediateDirectories: true)
        do {
            var files: [String: BundleManifest.FileEntry] = [:]
            func add(_ name: String, copying source: URL) throws {
                let destination = staging.appendingPathComponent(name)
                try manager.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
                try manager.copyItem(at: source, to: destination)
                files[name] = try entry(destination)
            }
            try add(BundleManifest.weightsFile, copying: sources.weights)
            try add(BundleManifest.catalogFile, copying: sources.catalog)
            let treeName = "\(sources.config.targetModality).tree"
            try sources.tree.serialized().write(to: staging.appendingPathComponent(treeName))
            files[treeName] = try entry(staging.appendingPathComponent(treeName))
            var layouts: [BundleManifest.CodeLayout] = []
            for m in sources.config.modalities {
                var codebooks: String?
                if let file = sources.codebooks[m.name] {
                    codebooks = "codebooks/\(m.name).safetensors"
                    try add(codebooks!, copying: file)
                }
                layouts.append(.init(modality: m.name, levels: m.levels, codebookSizes: m.codebookSizes, codebooks: codebooks))
            }
            let manifest = BundleManifest(
                formatVersion: BundleManifest.currentFormatVersion, version: version, model: sources.config,
                modalities: sources.config.modalities.map(\.name), targetModality: sources.config.targetModality,
                codes: layouts, prefixTree: treeName, dataset: sources.dataset, trainerVersion: sources.trainerVersion,
                createdAt: ISO8601DateFormatter().string(from: now), files: files)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(manifest).write(to: staging.appendingPathComponent(BundleManifest.fileName))
            for name in Array(files.keys) + [BundleManifest.fileName] { try fsync(staging.appendingPathComponent(name)) }
            try fsync(staging)
            let final = root.appendingPathComponent(version)
            try rename(staging, final)
            try fsync(root)
            try switchCurrent(root: root, to: version)
            if let keep { _ = try prune(root: root, keep: keep) }
            return final
        } catch {
            try? manager.removeItem(at: staging)
            throw error
        }
    }

    /// Points `ROOT/current` at `version` atomically (a new symlink renamed over the old one).
    public static func switchCurrent(root: URL, to version: String) throws {
        let temporary = root.appendingPathComponent(".current-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: temporary)
        guard symlink(version, temporary.path) == 0 else { throw BundleError.publish("symlink \(temporary.path): \(String(cString: strerror(errno)))") }
        try rename(temporary, root.appendingPathComponent(currentLink))
        try fsync(root)
    }

    /// The version `current` points at, if any.
    public static func currentVersion(root: URL) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: root.appendingPathComponent(currentLink).path)
    }

    /// Published versions, oldest first (names start with their UTC creation time).
    public static func versions(root: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0 != currentLink
            && FileManager.default.fileExists(atPath: root.appendingPathComponent($0).appendingPathComponent(BundleManifest.fileName).path) }.sorted()
    }

    /// Removes all but the newest `keep` versions, never the one `current` points at; returns what it removed.
    public static func prune(root: URL, keep: Int) throws -> [String] {
        let current = currentVersion(root: root)
        var removable = versions(root: root).filter { $0 != current }
        let keepOthers = max(0, keep - (current == nil ? 0 : 1))
        removable.removeLast(min(keepOthers, removable.count))
        for name in removable { try FileManager.default.removeItem(at: root.appendingPathComponent(name)) }
        return removable
    }

    static func versionName(dataset: String, now: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let slug = dataset.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "\(formatter.string(from: now))-\(String(slug.prefix(32)))-\(suffix)"
    }

    private static func entry(_ url: URL) throws -> BundleManifest.FileEntry {
        let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.int64Value ?? 0
        return .init(size: size, sha256: try SHA256.hex(ofFile: url))
    }

    /// Staging directories of publishes that died (a live publish would be ours: one publisher per root).
    private static func removeAbandonedStaging(_ root: URL) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [] where name.hasPrefix(".staging-") || name.hasPrefix(".current-") {
            try? FileManager.default.removeItem(at: root.appendingPathComponent(name))
        }
    }

    private static func rename(_ from: URL, _ to: URL) throws {
        guard Foundation.rename(from.path, to.path) == 0 else {
            throw BundleError.publish("rename \(from.path) -> \(to.path): \(String(cString: strerror(errno)))")
        }
    }

    private static func fsync(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw BundleError.publish("open \(url.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard Foundation.fsync(fd) == 0 else { throw BundleError.publish("fsync \(url.path): \(String(cString: strerror(errno)))") }
    }
}

import Catalog
import Foundation
import ItemCodes
import Models
import SafeTensors

/// A validated bundle in memory: the model, every item's tokens, the target prefix tree and the catalog's ids,
/// titles and codes. Loading checks the format version, every file's size and SHA-256, and the shapes against the
/// manifest's config before anything is returned, so a server never serves from a half-valid bundle.
/// @unchecked: the model's weights are only read after loading.
public final class LoadedBundle: @unchecked Sendable {
    public let manifest: BundleManifest
    /// The version directory (symlinks resolved: a later switch of `current` does not move it).
    public let directory: URL
    public let model: MSCGRec
    public let items: ItemTokens
    public let tree: PrefixTree
    public let directoryOfItems: ItemDirectory

    init(manifest: BundleManifest, directory: URL, model: MSCGRec, items: ItemTokens, tree: PrefixTree, catalog: ItemDirectory) {
        self.manifest = manifest; self.directory = directory; self.model = model; self.items = items; self.tree = tree
        directoryOfItems = catalog
    }

    public var version: String { manifest.version }

    /// Loads `path` (a version directory, or a root whose `current` link names one).
    public static func load(_ path: URL) throws -> LoadedBundle {
        var directory = path.resolvingSymlinksInPath()
        let link = directory.appendingPathComponent(BundlePublisher.currentLink)
        if !FileManager.default.fileExists(atPath: directory.appendingPathComponent(BundleManifest.fileName).path),
           FileManager.default.fileExists(atPath: link.path) {
            directory = link.resolvingSymlinksInPath()
        }
        let manifest = try readManifest(directory)
        try verifyFiles(manifest, in: directory)

        let config = manifest.model
        let weightsURL = directory.appendingPathComponent(BundleManifest.weightsFile)
        let model: MSCGRec
        do { model = try MSCGRec(config, weights: try SafeTensors.read(contentsOf: weightsURL)) } catch {
            throw BundleError.invalid(file: BundleManifest.weightsFile, reason: "does not fit the manifest's model config: \(error)")
        }
        let catalogFile = BundleManifest.catalogFile
        let catalog: ItemCatalog
        do { catalog = try ItemCatalog.open(at: directory.appendingPathComponent(catalogFile)) } catch {
            throw BundleError.invalid(file: catalogFile, reason: "\(error)")
        }
        var sets: [ModalityCodes] = []
        for m in config.modalities {
            guard let codes = try catalog.codes(modality: m.name) else {
                throw BundleError.mismatch(file: catalogFile, field: "codes of modality \"\(m.name)\"", expected: "present", actual: "absent")
            }
            guard codes.codebookSizes == m.codebookSizes else {
                throw BundleError.mismatch(file: catalogFile, field: "codebook sizes of \"\(m.name)\"", expected: "\(m.codebookSizes)", actual: "\(codes.codebookSizes)")
            }
            sets.append(codes)
        }
        let itemCount = sets.first?.itemCount ?? 0
        guard itemCount == manifest.dataset.items else {
            throw BundleError.mismatch(file: catalogFile, field: "item count", expected: "\(manifest.dataset.items)", actual: "\(itemCount)")
        }
        let items: ItemTokens
        do { items = try ItemTokens(layout: TokenLayout(config), modalities: sets.map { ($0.codes, $0.present) }) } catch {
            throw BundleError.invalid(file: catalogFile, reason: "\(error)")
        }
        let tree: PrefixTree
        do { tree = try PrefixTree.read(from: directory.appendingPathComponent(manifest.prefixTree)) } catch {
            throw BundleError.invalid(file: manifest.prefixTree, reason: "\(error)")
        }
        let target = config.modalities.first { $0.name == config.targetModality }
        guard tree.depth == target?.levels, tree.itemCount == itemCount else {
            throw BundleError.mismatch(file: manifest.prefixTree, field: "depth × items", expected: "\(target?.levels ?? 0) × \(itemCount)",
                                       actual: "\(tree.depth) × \(tree.itemCount)")
        }
        let names = config.modalities.map(\.name)
        let directoryOfItems = try ItemDirectory(catalog: catalog, modalities: Array(zip(names, sets)))
        return LoadedBundle(manifest: manifest, directory: directory, model: model, items: items, tree: tree, catalog: directoryOfItems)
    }

    static func readManifest(_ directory: URL) throws -> BundleManifest {
        let file = BundleManifest.fileName
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(file).path) else {
            throw BundleError.missingFile(bundle: directory.path, file: file)
        }
        // The version first, so a newer layout gets the version hint rather than a field-level decoding error.
        struct Version: Decodable { var formatVersion: Int }
        guard let version = try? JSONDecoder().decode(Version.self, from: data) else {
            throw BundleError.invalid(file: file, reason: "not a bundle manifest (no formatVersion)")
        }
        guard version.formatVersion == BundleManifest.currentFormatVersion else {
            throw BundleError.formatVersion(file: file, found: version.formatVersion, supported: BundleManifest.currentFormatVersion)
        }
        do { return try JSONDecoder().decode(BundleManifest.self, from: data) } catch {
            throw BundleError.invalid(file: file, reason: "\(error)")
        }
    }

    static func verifyFiles(_ manifest: BundleManifest, in directory: URL) throws {
        for required in [BundleManifest.weightsFile, BundleManifest.catalogFile, manifest.prefixTree] where manifest.files[required] == nil {
            throw BundleError.invalid(file: BundleManifest.fileName, reason: "lists no \(required)")
        }
        for (name, expected) in manifest.files.sorted(by: { $0.key < $1.key }) {
            let url = directory.appendingPathComponent(name)
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path) else {
                throw BundleError.missingFile(bundle: directory.path, file: name)
            }
            let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
            guard size == expected.size else { throw BundleError.sizeMismatch(file: name, expected: expected.size, actual: size) }
            let actual = try SHA256.hex(ofFile: url)
            guard actual == expected.sha256 else { throw BundleError.checksumMismatch(file: name, expected: expected.sha256, actual: actual) }
        }
    }
}

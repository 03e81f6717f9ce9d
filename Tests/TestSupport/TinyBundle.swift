import Artifacts
import Catalog
import Foundation
import ItemCodes
import Models

/// A small real bundle for tests: a random MSCGRec over two modalities (text 2 levels + collision level,
/// collaborative 2 levels), a catalog of `items` items with ids "item-<n>" and titles, published under `root`.
public enum TinyBundle {
    public static func config(prefixBuckets: Int? = nil) -> MSCGRecConfig {
        MSCGRecConfig(modalities: [.init(name: "text", codebookSizes: [4, 4, 4]), .init(name: "collaborative", codebookSizes: [8, 8])],
                      targetModality: "collaborative", maxHistory: 6,
                      transformer: TransformerConfig(dModel: 16, heads: 2, headDim: 8, dFF: 32, encoderLayers: 1, decoderLayers: 1,
                                                     positionBuckets: 16, maxDistance: 32, dropout: 0), itemBuckets: 8,
                      prefixBuckets: prefixBuckets)
    }

    /// Publishes one bundle and returns its version directory. `seed` varies the weights (two publishes differ).
    @discardableResult
    public static func publish(root: URL, items: Int = 40, seed: UInt64 = 1, keep: Int? = nil, prefixBuckets: Int? = nil) throws -> URL {
        let work = root.deletingLastPathComponent().appendingPathComponent("tiny-work-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let config = config(prefixBuckets: prefixBuckets)
        let catalogURL = work.appendingPathComponent("catalog.sqlite")
        let catalog = try ItemCatalog.create(at: catalogURL)
        try catalog.appendItems((0..<items).map { CatalogItem(index: $0, externalID: "item-\($0)", title: "Item \($0)") })
        // Distinct collaborative codes (8×8 > items); text codes collide, resolved by the collision level.
        var collaborative: [Int32] = [], text: [Int32] = []
        for item in 0..<items {
            collaborative += [Int32(item / 8), Int32(item % 8)]
            text += [Int32(item % 4), Int32(item / 4 % 4), Int32(item / 16)]
        }
        let present = [Bool](repeating: true, count: items)
        try catalog.write(codes: ModalityCodes(modality: "text", levels: 3, codebookSizes: [4, 4, 4], source: "test", codes: text, present: present))
        try catalog.write(codes: ModalityCodes(modality: "collaborative", levels: 2, codebookSizes: [8, 8], source: "test", codes: collaborative, present: present))
        let weights = work.appendingPathComponent("model.safetensors")
        try MSCGRec(config, seed: seed).weights().write(to: weights)
        let tree = try PrefixTree(codes: collaborative, depth: 2, codebookSizes: [8, 8], present: present)
        let sources = BundleSources(config: config, weights: weights, catalog: catalogURL, tree: tree, codebooks: [:],
                                    dataset: .init(name: "Tiny", items: items, users: 10), trainerVersion: "test")
        return try BundlePublisher.publish(sources, root: root, keep: keep)
    }
}

import Artifacts
import ArgumentParser
import Catalog
import Foundation
import ItemCodes
import Models

/// `synth-bundle`: a serving bundle over a large synthetic catalog (default 1,000,000 items), for the server's start-up
/// time and memory. Codes are drawn like real residual codes (a skewed first level, so some prefixes are crowded),
/// then the collision level is appended as `quantize` does; the model is the default config, randomly initialised.
struct SynthBundleBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "synth-bundle",
                                                    abstract: "Publish a bundle over a large synthetic catalog (server start-up and RSS benchmark).")

    @Option(help: "Items in the catalog.") var items = 1_000_000
    @Option(help: "Bundle root to publish into.") var out: String
    @Option(help: "Random seed.") var seed: UInt64 = 1

    func run() throws {
        let started = Date()
        var rng = SplitMix(seed: seed)
        let levels = 3, size = 256
        let work = URL(fileURLWithPath: out).appendingPathComponent(".synth-work")
        try? FileManager.default.removeItem(at: work)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let catalogURL = work.appendingPathComponent(ItemCatalog.fileName)
        let catalog = try ItemCatalog.create(at: catalogURL)
        try catalog.appendItems((0..<items).lazy.map { CatalogItem(index: $0, externalID: "item-\($0)", title: "Synthetic item \($0)") })
        let present = [Bool](repeating: true, count: items)
        var config = MSCGRecConfig(modalities: [], targetModality: "collaborative")
        var target: [Int32] = []
        for (m, name) in ["text", "collaborative"].enumerated() {
            var codes = [Int32](repeating: 0, count: items * levels)
            for i in 0..<items {
                // Level 1 skewed (u² concentrates mass on low codes, as k-means clusters do), the rest uniform.
                let u = Double(rng.next() % 1_000_000) / 1_000_000
                codes[i * levels] = Int32(Double(size) * u * u)
                for l in 1..<levels { codes[i * levels + l] = Int32(rng.next() % UInt64(size)) }
            }
            let result = try CollisionLevel.append(codes: codes, levels: levels, present: present, capacity: size, modality: name)
            print("\(name): \(result.distinctPrefixes) distinct \(levels)-level prefixes, \(result.collidingItems) items share one, "
                  + "largest group \(result.maxGroup) (collision level of \(size))")
            try catalog.write(codes: ModalityCodes(modality: name, levels: levels + 1, codebookSizes: Array(repeating: size, count: levels + 1),
                                                   source: "synthetic (seed \(seed + UInt64(m)))", codes: result.codes, present: present))
            config.modalities.append(.init(name: name, codebookSizes: Array(repeating: size, count: levels + 1)))
            if name == "collaborative" { target = result.codes }
        }
        let tree = try PrefixTree(codes: target, depth: levels + 1, codebookSizes: Array(repeating: size, count: levels + 1), present: present)
        let weights = work.appendingPathComponent(BundleManifest.weightsFile)
        try MSCGRec(config, seed: seed).weights().write(to: weights)
        let published = try BundlePublisher.publish(
            BundleSources(config: config, weights: weights, catalog: catalogURL, tree: tree, codebooks: [:],
                          dataset: .init(name: "Synthetic\(items)", items: items, users: 0), trainerVersion: "mscgrec-bench"),
            root: URL(fileURLWithPath: out), keep: 1)
        print(String(format: "published %@ in %.1f s (prefix tree %d bytes, %.1f per item)", published.path,
                     Date().timeIntervalSince(started), tree.byteCount, Double(tree.byteCount) / Double(items)))
    }
}

/// SplitMix64: a tiny seeded generator for the synthetic codes.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

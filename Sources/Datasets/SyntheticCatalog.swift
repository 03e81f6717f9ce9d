import Foundation
import JSONText

/// SplitMix64: tiny, fast, and identical on every platform, so a seed always gives the same dataset.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

/// A synthetic catalog and interaction log in the LC-Rec layout, for the demo bundle, tests and scale benchmarks.
///
/// Items get a category, product noun, colour, material, style and brand, and a title built from them. Users have
/// latent tastes: one to three categories and one or two colours; each step stays in the current category with
/// high probability (sessions), picks a favourite colour most of the time, and takes the next item of that
/// (category, colour) bucket. Buckets are walked round-robin until every item has `minItemCount` interactions,
/// so the data survives the paper's 5-core filter intact when `interactions ≥ minItemCount × items`; steps beyond
/// that quota draw popular items (power law within the bucket).
public struct SyntheticCatalog {
    public struct Options: Sendable {
        public var items: Int
        public var users: Int
        public var seed: UInt64
        /// Total interactions; default 25 per user, raised to `minItemCount × items` so every item can reach the core.
        public var interactions: Int?
        public var minItemCount = 5
        public var minUserLength = 5
        public var name = "Synth"

        public init(items: Int, users: Int, seed: UInt64) {
            self.items = items
            self.users = users
            self.seed = seed
        }

        public var resolvedInteractions: Int { interactions ?? max(users * 25, items * minItemCount) }
    }

    public struct Item: Sendable, Equatable {
        public var category: Int, noun: Int, colour: Int, material: Int, style: Int, brand: Int, model: Int
    }

    public let options: Options
    public private(set) var items: [Item] = []
    public private(set) var brands: [String] = []
    /// Flat user sequences: `sequenceItems[offsets[u]..<offsets[u+1]]`.
    public private(set) var offsets: [Int] = [0]
    public private(set) var sequenceItems: [Int32] = []

    public init(options: Options) throws {
        guard options.items >= 1, options.users >= 1 else { throw DatasetError.invalidOptions("--items and --users must be positive") }
        guard options.resolvedInteractions >= options.users * options.minUserLength else {
            throw DatasetError.invalidOptions("--interactions must be at least \(options.minUserLength) × users = \(options.users * options.minUserLength)")
        }
        guard options.items <= Int(Int32.max) else { throw DatasetError.invalidOptions("--items must fit in 32 bits") }
        self.options = options
        var rng = SplitMix64(seed: options.seed)
        makeItems(&rng)
        makeSequences(&rng)
    }

    private mutating func makeItems(_ rng: inout SplitMix64) {
        let vocabulary = SyntheticVocabulary.self
        let brandCount = max(8, min(2_000, options.items / 200))
        brands = (0..<brandCount).map { _ in
            let syllables = (0..<Int.random(in: 2...3, using: &rng)).map { _ in vocabulary.brandSyllables.randomElement(using: &rng)! }
            return syllables.joined().prefix(1).uppercased() + syllables.joined().dropFirst()
        }
        items.reserveCapacity(options.items)
        for _ in 0..<options.items {
            let category = Int.random(in: 0..<vocabulary.categories.count, using: &rng)
            // Brands specialise: each category draws from its own slice of the brand list.
            let perCategory = max(1, brandCount / vocabulary.categories.count)
            let brand = (category * perCategory + Int.random(in: 0..<perCategory, using: &rng)) % brandCount
            items.append(Item(
                category: category, noun: Int.random(in: 0..<vocabulary.categories[category].nouns.count, using: &rng),
                colour: Int.random(in: 0..<vocabulary.colours.count, using: &rng),
                material: Int.random(in: 0..<vocabulary.materials.count, using: &rng),
                style: Int.random(in: 0..<vocabulary.styles.count, using: &rng), brand: brand,
                model: Int.random(in: 100...9_999, using: &rng)))
        }
    }

    private mutating func makeSequences(_ rng: inout SplitMix64) {
        let colourCount = SyntheticVocabulary.colours.count
        let categoryCount = SyntheticVocabulary.categories.count
        let bucketCount = categoryCount * colourCount
        var bucketItems = [[Int32]](repeating: [], count: bucketCount)
        for (index, item) in items.enumerated() { bucketItems[item.category * colourCount + item.colour].append(Int32(index)) }
        var categorySizes = [Double](repeating: 0, count: categoryCount)
        var colourSizes = [Double](repeating: 0, count: colourCount)
        for item in items {
            categorySizes[item.category] += 1
            colourSizes[item.colour] += 1
        }
        var cursor = [Int](repeating: 0, count: bucketCount)
        let quota = bucketItems.map { $0.count * options.minItemCount }

        // Lengths: the minimum plus a heavy-tailed share of the remaining budget.
        let total = options.resolvedInteractions
        let spare = total - options.users * options.minUserLength
        let weights = (0..<options.users).map { _ in pow(-log(max(rng.unit(), 1e-12)), 1.5) }
        let weightSum = weights.reduce(0, +)
        var lengths = weights.map { options.minUserLength + Int(Double(spare) * $0 / weightSum) }
        var shortfall = total - lengths.reduce(0, +)
        var user = 0
        while shortfall > 0 {
            lengths[user % options.users] += 1
            shortfall -= 1
            user += 1
        }
        offsets.reserveCapacity(options.users + 1)
        for length in lengths { offsets.append(offsets.last! + length) }
        sequenceItems = [Int32](repeating: 0, count: total)
        var extraPositions: [Int] = []

        for user in 0..<options.users {
            let tastes = (0..<Int.random(in: 1...3, using: &rng)).map { _ in weightedIndex(categorySizes, &rng) }
            let colours = (0..<Int.random(in: 1...2, using: &rng)).map { _ in weightedIndex(colourSizes, &rng) }
            var category = tastes[0]
            for position in offsets[user]..<offsets[user + 1] {
                if rng.unit() >= 0.8 { category = tastes.randomElement(using: &rng)! }
                let colour = rng.unit() < 0.7 ? colours.randomElement(using: &rng)! : weightedIndex(colourSizes, &rng)
                var bucket = category * colourCount + colour
                if bucketItems[bucket].isEmpty {
                    // Small catalogs leave some (category, colour) pairs empty: fall back to any colour, then anything.
                    let sameCategory = (0..<colourCount).map { category * colourCount + $0 }.filter { !bucketItems[$0].isEmpty }
                    bucket = sameCategory.randomElement(using: &rng) ?? bucketItems.indices.first { !bucketItems[$0].isEmpty }!
                }
                if cursor[bucket] >= quota[bucket] {
                    // This colour's quota is used up: another colour of the same category keeps the session's theme.
                    let base = bucket - bucket % colourCount
                    if let open = (0..<colourCount).lazy.map({ base + $0 }).first(where: { cursor[$0] < quota[$0] }) { bucket = open }
                }
                let members = bucketItems[bucket]
                if cursor[bucket] < quota[bucket] {
                    sequenceItems[position] = members[cursor[bucket] % members.count]
                    cursor[bucket] += 1
                } else {
                    sequenceItems[position] = members[Int(Double(members.count) * pow(rng.unit(), 3))]
                    extraPositions.append(position)
                }
            }
        }

        // Buckets their users under-visited still owe items their quota: overwrite random popular draws.
        extraPositions.shuffle(using: &rng)
        var next = 0
        for bucket in 0..<bucketCount where cursor[bucket] < quota[bucket] {
            let members = bucketItems[bucket]
            while cursor[bucket] < quota[bucket] && next < extraPositions.count {
                sequenceItems[extraPositions[next]] = members[cursor[bucket] % members.count]
                cursor[bucket] += 1
                next += 1
            }
        }
    }

    private func weightedIndex(_ weights: [Double], _ rng: inout SplitMix64) -> Int {
        var target = rng.unit() * weights.reduce(0, +)
        for (index, weight) in weights.enumerated() {
            target -= weight
            if target < 0 { return index }
        }
        return weights.count - 1
    }

    public func title(ofItem index: Int) -> String {
        let item = items[index]
        let v = SyntheticVocabulary.self
        let noun = v.categories[item.category].nouns[item.noun]
        return "\(brands[item.brand]) \(v.styles[item.style]) \(v.colours[item.colour]) \(v.materials[item.material]) \(noun) \(brands[item.brand].prefix(1))-\(item.model)"
    }

    public func fields(ofItem index: Int) -> [(String, String)] {
        let item = items[index]
        let v = SyntheticVocabulary.self
        let noun = v.categories[item.category].nouns[item.noun]
        let feature = v.features[(index &* 7 &+ item.model) % v.features.count]
        let description = "A \(v.styles[item.style].lowercased()) \(v.colours[item.colour].lowercased()) \(v.materials[item.material].lowercased()) \(noun.lowercased()) from \(brands[item.brand]), with \(feature)."
        return [
            ("title", title(ofItem: index)), ("description", description), ("brand", brands[item.brand]),
            ("categories", "\(v.categories[item.category].name),\(noun)"), ("colour", v.colours[item.colour]),
            ("material", v.materials[item.material]),
        ]
    }

    /// Writes `<dir>/<Name>.inter.json` and `<dir>/<Name>.item.json`, each through a temporary file and a rename.
    public func write(to directory: URL) throws {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw DatasetError.outputFailed(path: directory.path, reason: error.localizedDescription)
        }
        try StreamingFileWriter.write(directory.appendingPathComponent("\(options.name).inter.json")) { out in
            out.append("{")
            for user in 0..<options.users {
                out.append(user == 0 ? "\n\"\(user)\": [" : ",\n\"\(user)\": [")
                var first = true
                for item in sequenceItems[offsets[user]..<offsets[user + 1]] {
                    out.append(first ? String(item) : ", " + String(item))
                    first = false
                }
                out.append("]")
                try out.flushIfLarge()
            }
            out.append("\n}\n")
        }
        try StreamingFileWriter.write(directory.appendingPathComponent("\(options.name).item.json")) { out in
            out.append("{")
            for index in 0..<items.count {
                out.append(index == 0 ? "\n\"\(index)\": {" : ",\n\"\(index)\": {")
                out.append(fields(ofItem: index).map { "\(jsonQuoted($0.0)): \(jsonQuoted($0.1))" }.joined(separator: ", "))
                out.append("}")
                try out.flushIfLarge()
            }
            out.append("\n}\n")
        }
    }
}

/// Buffers text and writes it in large chunks to a temporary file that is renamed into place when complete.
final class StreamingFileWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private let path: String

    private init(handle: FileHandle, path: String) {
        self.handle = handle
        self.path = path
        buffer.reserveCapacity(1 << 21)
    }

    func append(_ text: String) { buffer.append(contentsOf: text.utf8) }

    func flushIfLarge() throws { if buffer.count >= 1 << 20 { try flush() } }

    func flush() throws {
        do { try handle.write(contentsOf: buffer) } catch { throw DatasetError.outputFailed(path: path, reason: error.localizedDescription) }
        buffer.removeAll(keepingCapacity: true)
    }

    static func write(_ url: URL, _ body: (StreamingFileWriter) throws -> Void) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil), let handle = FileHandle(forWritingAtPath: temporary.path) else {
            throw DatasetError.outputFailed(path: temporary.path, reason: "cannot create")
        }
        let writer = StreamingFileWriter(handle: handle, path: url.path)
        do {
            try body(writer)
            try writer.flush()
            try handle.close()
            // rename(2) replaces an existing file atomically.
            guard rename(temporary.path, url.path) == 0 else {
                throw DatasetError.outputFailed(path: url.path, reason: String(cString: strerror(errno)))
            }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporary)
            if error is DatasetError { throw error }
            throw DatasetError.outputFailed(path: url.path, reason: "\(error)")
        }
    }
}

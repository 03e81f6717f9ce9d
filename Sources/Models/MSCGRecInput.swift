import MSCCore
import TensorEngine

/// One teacher-forced (or, without targets, inference) batch of MSCGRec. Shapes in the legend of `MSCGRec.swift`.
public struct MSCGRecBatch: Sendable {
    public var size: Int
    /// History items per row after left padding (S = items·P + 1).
    public var items: Int
    public var encoderTokens: [Int32]       // [B, S]
    /// [B, S], 1 = padding; nil when every row has `items` items.
    public var padding: [Float]?
    public var decoderTokens: [Int32]       // [B, Lt]; empty without targets
    public var labels: [Int32]              // [B·Lt] output classes; empty without targets
    /// The targets' codes, one row of Lt per decoded row (for the prefix tree's allowed sets).
    public var targetCodes: [[Int32]]
    /// The encoder row each decoded row reads, when some histories decode more than one path (distillation's extra
    /// paths, appended after the B rows of the targets); nil: decoded row r reads encoder row r.
    public var decoderSources: [Int32]? = nil

    /// Decoded rows: B, or more with extra paths.
    public var decodedRows: Int { decoderSources?.count ?? size }

    /// Appends decoded rows: `codes` (Lt each) read encoder row `source`; labels of the levels before `firstLevel` are
    /// −1 (not trained).
    public mutating func appendPath(source: Int, codes: ArraySlice<Int32>, firstLevel: Int, layout: TokenLayout) {
        precondition(source >= 0 && source < size, "extra path of encoder row \(source), the batch has \(size)")
        let c = Array(codes), l = layout.targetLevels
        precondition(c.count == l, "an extra path of \(c.count) codes, the target modality has \(l) levels")
        if decoderSources == nil { decoderSources = (0..<size).map(Int32.init) }
        decoderSources!.append(Int32(source))
        appendDecodedRow(c, firstLevel: firstLevel, layout: layout)
    }

    /// One decoded row: PAD as the start token, then the first Lt − 1 codes as tokens; the codes as labels.
    mutating func appendDecodedRow(_ codes: [Int32], firstLevel: Int = 0, layout: TokenLayout) {
        targetCodes.append(codes)
        decoderTokens.append(TokenLayout.pad)
        for level in 0..<(codes.count - 1) { decoderTokens.append(layout.token(modality: layout.targetIndex, level: level, code: codes[level])) }
        for level in codes.indices { labels.append(level < firstLevel ? -1 : codes[level] + layout.classOffsets[level]) }
    }
}

/// Every item's encoder block (all modalities' codes as tokens, MASK where the item lacks a modality) and its target
/// codes: built once per catalog, read by every batch.
public struct ItemTokens: Sendable {
    public let layout: TokenLayout
    public let itemCount: Int
    /// [itemCount × P]
    public let blocks: [Int32]
    /// [itemCount × Lt], meaningful where `hasTarget`.
    public let targetCodes: [Int32]
    /// False where the item lacks the target modality (it cannot be a target).
    public let hasTarget: [Bool]

    /// `modalities[m]` holds modality m's codes (row-major itemCount × levels, in the config's order) and presence.
    public init(layout: TokenLayout, modalities: [(codes: [Int32], present: [Bool])]) throws {
        guard modalities.count == layout.modalities.count else {
            throw ConfigError("codes for \(modalities.count) modalities, the config has \(layout.modalities.count)")
        }
        let n = modalities.first?.present.count ?? 0
        let p = layout.blockLength
        var blocks = [Int32](repeating: 0, count: n * p)
        for (m, spec) in layout.modalities.enumerated() {
            let (codes, present) = modalities[m]
            guard present.count == n, codes.count == n * spec.levels else {
                throw ConfigError("modality \(spec.name): codes for \(codes.count / max(spec.levels, 1)) items and presence for \(present.count), expected \(n) items of \(spec.levels) levels")
            }
            let start = layout.blockOffset(m)
            for item in 0..<n {
                for level in 0..<spec.levels {
                    let code = codes[item * spec.levels + level]
                    if present[item] {
                        guard code >= 0, Int(code) < spec.codebookSizes[level] else {
                            throw ConfigError("modality \(spec.name), item \(item), level \(level): code \(code) outside 0..<\(spec.codebookSizes[level]) (config and codes do not match)")
                        }
                        blocks[item * p + start + level] = layout.token(modality: m, level: level, code: code)
                    } else {
                        blocks[item * p + start + level] = layout.mask(m)
                    }
                }
            }
        }
        let t = layout.targetIndex
        self.layout = layout
        self.itemCount = n
        self.blocks = blocks
        self.targetCodes = modalities[t].codes
        self.hasTarget = modalities[t].present
    }

    private init(layout: TokenLayout, itemCount: Int, blocks: [Int32], targetCodes: [Int32], hasTarget: [Bool]) {
        self.layout = layout; self.itemCount = itemCount; self.blocks = blocks; self.targetCodes = targetCodes; self.hasTarget = hasTarget
    }

    /// The same items with `hidden` modalities (indices into the layout) shown as their MASK tokens in every history,
    /// as if no item had them; targets are unchanged (what the Shapley values of the input modalities evaluate).
    public func hiding(_ hidden: Set<Int>) -> ItemTokens {
        var blocks = self.blocks
        let p = layout.blockLength
        for m in hidden {
            let start = layout.blockOffset(m)
            for item in 0..<itemCount {
                for level in 0..<layout.modalities[m].levels { blocks[item * p + start + level] = layout.mask(m) }
            }
        }
        return ItemTokens(layout: layout, itemCount: itemCount, blocks: blocks, targetCodes: targetCodes, hasTarget: hasTarget)
    }

    public func targetCodes(ofItem item: Int) -> ArraySlice<Int32> {
        let l = layout.targetLevels
        return targetCodes[item * l..<(item + 1) * l]
    }

    /// A batch of `histories` (item indices, oldest first; only the last `maxHistory` are read) with optional next-item
    /// `targets`. Shorter rows are left-padded by whole blocks, so relative positions stay exact. With a generator and
    /// `maskProbability` > 0, each history item shows one random modality as its MASK token with that probability.
    public func batch<H: Collection<Int32>>(histories: [H], targets: [Int32]?, maxHistory: Int, maskProbability: Float = 0,
                                            rng: inout SeededGenerator) -> MSCGRecBatch {
        let p = layout.blockLength, d = layout.modalities.count
        let rows = histories.map { $0.suffix(maxHistory) }
        let items = rows.map(\.count).max() ?? 0
        let s = items * p + 1
        var tokens = [Int32](repeating: TokenLayout.pad, count: rows.count * s)
        var padding = [Float](repeating: 0, count: rows.count * s)
        var padded = false
        for (r, history) in rows.enumerated() {
            let lead = items - history.count
            if lead > 0 {
                padded = true
                for j in 0..<(lead * p) { padding[r * s + j] = 1 }
            }
            for (i, item) in history.enumerated() {
                let out = r * s + (lead + i) * p
                for j in 0..<p { tokens[out + j] = blocks[Int(item) * p + j] }
                if maskProbability > 0, rng.uniform() < maskProbability {
                    let m = rng.index(d)
                    let start = layout.blockOffset(m)
                    for level in 0..<layout.modalities[m].levels { tokens[out + start + level] = layout.mask(m) }
                }
            }
            tokens[r * s + s - 1] = TokenLayout.eos
        }
        var batch = MSCGRecBatch(size: rows.count, items: items, encoderTokens: tokens, padding: padded ? padding : nil,
                                 decoderTokens: [], labels: [], targetCodes: [])
        for target in targets ?? [] { batch.appendDecodedRow(Array(targetCodes(ofItem: Int(target))), layout: layout) }
        return batch
    }
}

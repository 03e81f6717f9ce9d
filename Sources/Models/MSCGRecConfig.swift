import MSCCore
import TensorEngine

/// Everything that fixes the shapes and behaviour of an MSCGRec model (paper 3.1, 3.3, 4.1): the single source of
/// these numbers. It is written beside the weights and read back to rebuild exactly the trained model; the artifact
/// manifest carries it to the server.
public struct MSCGRecConfig: Codable, Equatable, Sendable {
    /// Bumped when the meaning of a field or the weight layout changes; a reader refuses versions newer than its own.
    /// 2: `prefixBuckets`; 3: `decoderPrefixes`; 4: `prefixLogits`. A config is written with the lowest version that
    /// holds it, so builds before a setting read every config without it and refuse one with it instead of ignoring it.
    public static let currentFormatVersion = 4

    /// One input modality: its name and the size of each code level, the collision level last.
    public struct Modality: Codable, Equatable, Sendable {
        public var name: String
        public var codebookSizes: [Int]
        public init(name: String, codebookSizes: [Int]) { self.name = name; self.codebookSizes = codebookSizes }
        public var levels: Int { codebookSizes.count }
    }

    public enum PositionBias: String, Codable, Sendable, CaseIterable {
        /// MSCGRec: a bias over the distance between items plus one over the offset inside an item's code block.
        case split
        /// T5's single bias over token distance (ablation).
        case standard
    }

    public enum Softmax: String, Codable, Sendable, CaseIterable {
        /// Eq. 6: each level normalises over the children of the ground-truth prefix in the target's prefix tree.
        case constrained
        /// The ordinary softmax over every output class (ablation; TIGER).
        case full
    }

    public var formatVersion = 1
    /// Input modalities in stacking order: an item reads `[m1 c1 … cL][m2 …]…`.
    public var modalities: [Modality]
    /// The modality whose codes the decoder predicts (the paper's choice: collaborative).
    public var targetModality: String
    /// History items read by the encoder (the most recent ones).
    public var maxHistory: Int
    public var transformer: TransformerConfig
    public var positionBias: PositionBias
    /// Split bias: buckets over item distance; the other `transformer.positionBuckets − itemBuckets` cover the offset
    /// inside an item's code block, so the stored table keeps T5's size.
    public var itemBuckets: Int
    public var softmax: Softmax
    /// Training only: the chance that one randomly chosen modality of a history item shows its MASK token.
    public var maskProbability: Float
    /// Not in the paper (nil: off). Each history code token below its modality's first level also gets two rows of a
    /// table of `prefixBuckets + 1`, picked by two hashes of its prefix (c1 … cl of that item and modality), so the
    /// encoder reads which exact prefix (and, at the collision level, which item) it sees instead of composing it from
    /// codes shared by many items. The table's size is fixed, not one row per item.
    public var prefixBuckets: Int?
    /// Not in the paper (nil or false: off). The decoder's input tokens read the same table, with the same hashes, for
    /// the target prefix they complete, so the state that scores a prefix's children knows that exact prefix (the
    /// output side of what `prefixBuckets` gives the encoder). Needs `prefixBuckets`.
    public var decoderPrefixes: Bool?
    /// Not in the paper (nil or false: off). The logit of each child c of a target prefix p below the first level adds
    /// the decoder state's dot product with the table rows of p·c, the rows the same item's tokens read in a history:
    /// like SASRec's item table, one free vector per prefix (per item at the deepest levels) both reads the history and
    /// scores the next item. Needs `prefixBuckets` and the constrained softmax (only a prefix's children get the term).
    public var prefixLogits: Bool?

    public init(modalities: [Modality], targetModality: String, maxHistory: Int = 20,
                transformer: TransformerConfig = MSCGRecConfig.defaultTransformer, positionBias: PositionBias = .split,
                itemBuckets: Int = 16, softmax: Softmax = .constrained, maskProbability: Float = 0, prefixBuckets: Int? = nil,
                decoderPrefixes: Bool = false, prefixLogits: Bool = false) {
        self.modalities = modalities; self.targetModality = targetModality; self.maxHistory = maxHistory
        self.transformer = transformer; self.positionBias = positionBias; self.itemBuckets = itemBuckets
        self.softmax = softmax; self.maskProbability = maskProbability; self.prefixBuckets = prefixBuckets
        self.decoderPrefixes = decoderPrefixes ? true : nil
        self.prefixLogits = prefixLogits ? true : nil
        formatVersion = prefixLogits ? 4 : decoderPrefixes ? 3 : prefixBuckets == nil ? 1 : 2
    }

    /// Whether the decoder's inputs read the prefix table.
    public var prefixesInDecoder: Bool { decoderPrefixes == true }
    /// Whether the children's logits read the prefix table.
    public var prefixesInLogits: Bool { prefixLogits == true }

    /// The CPU default (sizes chosen by measured epoch time; README says what each costs). Dropout 0.05: on Beauty
    /// (131k targets) this small model is limited by fitting (validation loss at epoch 2 with dropout 0.3, 0.1, 0:
    /// 2.195, 2.110, 2.091), so `configs/beauty.json` trains without; on Scientific (34k targets) no dropout overfits
    /// from epoch 5 (best validation loss 1.8876 at epoch 4, against 1.8725 with 0.05 and 1.8768 with 0.1).
    public static let defaultTransformer = TransformerConfig(dModel: 128, heads: 4, headDim: 32, dFF: 512, encoderLayers: 3,
                                                             decoderLayers: 3, positionBuckets: 32, maxDistance: 128,
                                                             dropout: 0.05)

    public var codeBuckets: Int { transformer.positionBuckets - itemBuckets }

    public func validate() throws {
        func fail(_ field: String, _ why: String) -> ConfigError { ConfigError("config field \(field): \(why)") }
        guard (1...Self.currentFormatVersion).contains(formatVersion) else {
            throw fail("formatVersion", "is \(formatVersion); this build reads versions 1…\(Self.currentFormatVersion) (retrain or use a matching build)")
        }
        if let buckets = prefixBuckets {
            guard formatVersion >= 2 else { throw fail("formatVersion", "is 1, but prefixBuckets needs version 2") }
            guard (1...(1 << 24)).contains(buckets) else { throw fail("prefixBuckets", "must be 1…2^24, got \(buckets)") }
        }
        if prefixesInDecoder {
            guard prefixBuckets != nil else { throw fail("decoderPrefixes", "needs prefixBuckets (the table it reads)") }
            guard formatVersion >= 3 else { throw fail("formatVersion", "is \(formatVersion), but decoderPrefixes needs version 3") }
        }
        if prefixesInLogits {
            guard prefixBuckets != nil else { throw fail("prefixLogits", "needs prefixBuckets (the table it reads)") }
            guard softmax == .constrained else { throw fail("prefixLogits", "needs softmax \"constrained\" (its rows are the prefix's children)") }
            guard formatVersion >= 4 else { throw fail("formatVersion", "is \(formatVersion), but prefixLogits needs version 4") }
        }
        guard !modalities.isEmpty else { throw fail("modalities", "needs at least one modality") }
        var seen = Set<String>()
        for m in modalities {
            guard seen.insert(m.name).inserted else { throw fail("modalities", "\"\(m.name)\" appears twice") }
            guard !m.codebookSizes.isEmpty, m.codebookSizes.allSatisfy({ $0 >= 1 && $0 <= 1 << 20 }) else {
                throw fail("modalities.\(m.name).codebookSizes", "needs 1 or more levels of 1…2^20 codes, got \(m.codebookSizes)")
            }
        }
        guard seen.contains(targetModality) else {
            throw fail("targetModality", "\"\(targetModality)\" is not among the modalities \(modalities.map(\.name))")
        }
        guard (1...1024).contains(maxHistory) else { throw fail("maxHistory", "must be 1…1024, got \(maxHistory)") }
        let t = transformer
        guard t.dModel > 0, t.heads > 0, t.headDim > 0, t.dFF > 0, t.encoderLayers >= 1, t.decoderLayers >= 1 else {
            throw fail("transformer", "widths and layer counts must be positive")
        }
        guard (0..<1).contains(t.dropout) else { throw fail("transformer.dropout", "must be in [0, 1), got \(t.dropout)") }
        guard t.positionBuckets >= 2, t.maxDistance >= 1 else { throw fail("transformer.positionBuckets", "must be ≥ 2") }
        if positionBias == .split {
            guard itemBuckets >= 2, codeBuckets >= 2 else {
                throw fail("itemBuckets", "split bias needs ≥ 2 item and ≥ 2 code buckets out of \(t.positionBuckets), got \(itemBuckets)")
            }
        }
        guard (0...1).contains(maskProbability) else { throw fail("maskProbability", "must be in [0, 1], got \(maskProbability)") }
    }
}

/// Where every token lives in the input vocabulary, derived from the config: PAD 0, EOS 1, one MASK per modality,
/// then every (modality, level, code) as its own token. Output classes are the target modality's codes, numbered
/// across its levels.
public struct TokenLayout: Equatable, Sendable {
    public static let pad: Int32 = 0
    public static let eos: Int32 = 1

    public let modalities: [MSCGRecConfig.Modality]
    public let targetIndex: Int
    /// First token of (modality m, level l).
    public let codeTokenStart: [[Int32]]
    public let vocabularySize: Int
    /// Offset of level l's codes among the output classes.
    public let classOffsets: [Int32]
    public let classCount: Int

    public init(_ config: MSCGRecConfig) {
        modalities = config.modalities
        targetIndex = config.modalities.firstIndex { $0.name == config.targetModality } ?? 0
        var next = Int32(2 + config.modalities.count)
        codeTokenStart = config.modalities.map { m in
            m.codebookSizes.map { size in defer { next += Int32(size) }; return next }
        }
        vocabularySize = Int(next)
        var offset: Int32 = 0
        classOffsets = config.modalities[targetIndex].codebookSizes.map { size in defer { offset += Int32(size) }; return offset }
        classCount = Int(offset)
    }

    public func mask(_ modality: Int) -> Int32 { Int32(2 + modality) }
    /// Codes per history item: every modality's levels.
    public var blockLength: Int { modalities.reduce(0) { $0 + $1.levels } }
    /// Offset of modality m's codes inside an item's block.
    public func blockOffset(_ modality: Int) -> Int { modalities[..<modality].reduce(0) { $0 + $1.levels } }
    public var targetLevels: Int { modalities[targetIndex].levels }
    public func token(modality: Int, level: Int, code: Int32) -> Int32 { codeTokenStart[modality][level] + code }

    /// The two prefix-table rows of every token of encoder rows of `rowLength` tokens (items·P, then EOS), for a table
    /// of `buckets + 1` rows: 1 + two hashes of the token's prefix within its item and modality for code tokens below
    /// the first level; 0 for first-level codes, EOS, PAD and a prefix that holds a MASK.
    public func prefixRows(_ tokens: [Int32], rowLength: Int, buckets: Int) -> (first: [Int32], second: [Int32]) {
        var first = [Int32](repeating: 0, count: tokens.count), second = first
        let p = blockLength, firstCode = codeTokenStart[0][0], offsets = modalities.indices.map(blockOffset)
        for row in stride(from: 0, to: tokens.count, by: rowLength) {
            for block in stride(from: row, to: row + rowLength - 1, by: p) {
                for m in modalities.indices {
                    let start = block + offsets[m]
                    var h = PrefixHash(modality: m), coded = true
                    for level in 0..<modalities[m].levels {
                        let t = tokens[start + level]
                        coded = coded && t >= firstCode
                        h.append(t)
                        guard level > 0, coded else { continue }
                        (first[start + level], second[start + level]) = h.rows(buckets: buckets)
                    }
                }
            }
        }
        return (first, second)
    }

    /// The same rows for decoder inputs (rows of `rowLength` tokens: the start token, then the target's codes): the
    /// token at position t completes the target prefix c1 … ct and reads that prefix's rows, the ones the same item's
    /// tokens read in a history; 0 for the start token and the first level.
    public func decoderPrefixRows(_ tokens: [Int32], rowLength: Int, buckets: Int) -> (first: [Int32], second: [Int32]) {
        var first = [Int32](repeating: 0, count: tokens.count), second = first
        guard rowLength > 2 else { return (first, second) }
        for row in stride(from: 0, to: tokens.count, by: rowLength) {
            var h = PrefixHash(modality: targetIndex)
            for t in 1..<rowLength {
                h.append(tokens[row + t])
                if t > 1 { (first[row + t], second[row + t]) = h.rows(buckets: buckets) }
            }
        }
        return (first, second)
    }

    /// What `prefixLogits` reads: every (decoded position, allowed class) pair below the first level, and the two
    /// table rows of the prefix that child completes (the rows the same item's token of that level reads in a history).
    public struct ChildPrefixRows: Equatable, Sendable {
        public var positions: [Int32] = [], classes: [Int32] = [], first: [Int32] = [], second: [Int32] = []
    }

    /// `ChildPrefixRows` of decoder rows of `rowLength` tokens (the start token, then the target's codes); position t's
    /// children are `allowed.row` of that position and complete the prefix of its tokens 1 … t.
    public func childPrefixRows(_ tokens: [Int32], rowLength: Int, allowed: AllowedClasses, buckets: Int) -> ChildPrefixRows {
        precondition(allowed.rowCount == tokens.count, "allowed classes for \(allowed.rowCount) positions, \(tokens.count) tokens")
        var pairs = ChildPrefixRows()
        for row in stride(from: 0, to: tokens.count, by: rowLength) {
            var h = PrefixHash(modality: targetIndex)
            for t in 1..<rowLength {
                h.append(tokens[row + t])
                let offset = classOffsets[t]
                for k in allowed.row(row + t) {
                    var child = h
                    child.append(token(modality: targetIndex, level: t, code: k - offset))
                    let (a, b) = child.rows(buckets: buckets)
                    pairs.positions.append(Int32(row + t)); pairs.classes.append(k); pairs.first.append(a); pairs.second.append(b)
                }
            }
        }
        return pairs
    }

    /// A running hash of one item's code tokens in one modality, and the two table rows it picks.
    public struct PrefixHash {
        var state: UInt64
        public init(modality: Int) { state = TokenLayout.mix(UInt64(modality + 1)) }
        public mutating func append(_ token: Int32) { state = TokenLayout.mix(state ^ UInt64(UInt32(bitPattern: token))) }
        public func rows(buckets: Int) -> (Int32, Int32) {
            let n = UInt64(buckets)
            return (1 + Int32(state % n), 1 + Int32(TokenLayout.mix(state ^ 0x5851_F42D_4C95_7F2D) % n))
        }
    }

    /// SplitMix64's finaliser: every input bit moves every output bit.
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import ItemCodes
import Foundation
import Models
import TensorEngine

// Shape legend: U users of a batch, R decoded rows at a step (the beams whose path is still open, grouped by user),
// S encoder tokens (of the longest history), t decoding step (0-based), D model width, HK concatenated head width.

/// One recommended item: its index, the sum of its codes' constrained log-probabilities (eq. 6) and its codes.
public struct Recommendation: Sendable, Equatable {
    public var item: Int32
    public var score: Float
    public var codes: [Int32]
}

/// Batched constrained beam search over the target modality's prefix tree (paper 3.1, 4.1): the encoder runs once per
/// history, cross-attention keys and values are computed once, the decoder runs one token per step with a key/value
/// cache, and only the children of each beam's prefix are scored, with the log-softmax restricted to them.
/// @unchecked: the model's weights are only read while searching, from any number of threads.
public struct ConstrainedBeamSearch: @unchecked Sendable {
    public let model: MSCGRec
    public let items: ItemTokens
    public let tree: PrefixTree
    /// The output projection transposed to [C, D]: a child's logit is one contiguous dot product.
    let outputRows: [Float]
    /// Per tree node: the path below it is one chain to a leaf (its codes and score are known without decoding).
    let determined: [Bool]
    /// Per tree node its parent (−1 for the root), and per item its leaf (−1 without one): for `excludedNodes`.
    let parent: [Int32], leafOfItem: [Int32]

    public init(model: MSCGRec, items: ItemTokens, tree: PrefixTree) {
        precondition(tree.depth == model.layout.targetLevels, "tree depth \(tree.depth) vs \(model.layout.targetLevels) target levels")
        self.model = model; self.items = items; self.tree = tree
        let (d, c) = (model.outputProjection.shape[0], model.outputProjection.shape[1])
        let w = model.outputProjection.scalars
        var rows = [Float](repeating: 0, count: c * d)
        for i in 0..<d { for j in 0..<c { rows[j * d + i] = w[i * c + j] } }
        outputRows = rows
        // A node is determined when the path below it is a single chain to a leaf (children have higher ids).
        var determined = [Bool](repeating: false, count: tree.nodeCount)
        for node in stride(from: tree.nodeCount - 1, through: 0, by: -1) {
            let children = tree.children(of: Int32(node))
            determined[node] = tree.isLeaf(Int32(node)) || (children.count == 1 && determined[Int(children.lowerBound)])
        }
        self.determined = determined
        var parent = [Int32](repeating: -1, count: tree.nodeCount), leafOfItem = [Int32](repeating: -1, count: tree.itemCount)
        for node in 0..<Int32(tree.nodeCount) {
            for child in tree.children(of: node) { parent[Int(child)] = node }
            if let item = tree.item(ofLeaf: node) { leafOfItem[Int(item)] = node }
        }
        self.parent = parent; self.leafOfItem = leafOfItem
    }

    /// The nodes every leaf below which is an excluded item: a beam there can only end on an excluded item, so the
    /// search never keeps one, and the width goes to items it may return (K results whenever K others exist).
    func excludedNodes(_ items: Set<Int32>) -> Set<Int32> {
        var excluded = Set<Int32>(), excludedChildren: [Int32: Int] = [:]
        for item in items where item >= 0 && Int(item) < leafOfItem.count && leafOfItem[Int(item)] >= 0 {
            var node = leafOfItem[Int(item)]
            excluded.insert(node)
            // Climb while the parent's last live child has just gone.
            while node != PrefixTree.root {
                let up = parent[Int(node)]
                excludedChildren[up, default: 0] += 1
                guard excludedChildren[up]! == tree.children(of: up).count else { break }
                excluded.insert(up)
                node = up
            }
        }
        return excluded
    }

    /// The top `results` items for every history (item indices, oldest first; the most recent `maxHistory` are read),
    /// best first, ties broken by beam order then code. `exclude[u]` (when given) removes those items: no beam is kept
    /// on a prefix under which every item is excluded, so the beam fills with others (scores stay the model's
    /// log-probabilities: the excluded items still count in each log-softmax). Users are spread over the engine's
    /// workers, BLAS single-threaded in each.
    public func recommend(histories: [[Int32]], beams: Int = 20, results: Int = 10, exclude: [Set<Int32>]? = nil,
                          usersPerBatch: Int = 64) -> [[Recommendation]] {
        precondition(beams >= 1 && (1...beams).contains(results), "need 1 ≤ results ≤ beams, got \(results) of \(beams)")
        // Users of similar history length share a batch, so little of the encoder's work goes to padding.
        let maxHistory = model.config.maxHistory
        let order = histories.indices.sorted { (min(histories[$0].count, maxHistory), $0) < (min(histories[$1].count, maxHistory), $1) }
        let chunks = stride(from: 0, to: order.count, by: usersPerBatch).map { order[$0..<min(order.count, $0 + usersPerBatch)] }
        var out = [[Recommendation]](repeating: [], count: histories.count)
        let shards = max(1, min(Parallelism.workers, chunks.count))
        out.withUnsafeMutableBufferPointer { buffer in
            let shared = UncheckedBuffer(buffer)
            Parallelism.forEachShard(shards) { shard in
                for c in stride(from: shard, to: chunks.count, by: shards) {
                    let users = chunks[c]
                    let found = search(users.map { histories[$0] }, beams: beams, results: results,
                                       exclude: exclude.map { sets in users.map { sets[$0] } })
                    for (user, r) in zip(users, found) { shared.buffer[user] = r }
                }
            }
        }
        return out
    }

    /// A live beam: its tree node, score, codes so far, and its row in the decoder cache (−1 when the path below
    /// `node` is a single chain to a leaf, so the rest of its codes and score are already known); `prefix` hashes its
    /// codes as the prefix table does (read with `decoderPrefixes` and `prefixLogits`).
    struct Beam {
        var node: Int32
        var score: Float
        var codes: [Int32]
        var row: Int32
        var prefix: TokenLayout.PrefixHash
    }

    /// One batch of users, on the calling thread. Beams whose remaining path is determined need no decoder work (the
    /// log-softmax over a single child is exactly 0): only the others are decoded, so after the first levels most
    /// beams of a sparse catalog stop costing anything, and the answer is the same as decoding every beam.
    func search(_ histories: [[Int32]], beams width: Int, results: Int, exclude: [Set<Int32>]?) -> [[Recommendation]] {
        withoutGrad {
            let users = histories.count, levels = tree.depth
            let (cross, crossMask) = crossKeysValues(histories)
            var cacheK = [Tensor?](repeating: nil, count: model.decoderLayers.count), cacheV = cacheK
            let rootOpen = !determined[Int(PrefixTree.root)]
            var openRows: Int32 = 0
            let target = model.layout.targetIndex
            var beams = (0..<users).map { _ -> [Beam] in
                defer { if rootOpen { openRows += 1 } }
                return [Beam(node: PrefixTree.root, score: 0, codes: [], row: rootOpen ? openRows : -1,
                             prefix: TokenLayout.PrefixHash(modality: target))]
            }
            let excluded = exclude.map { $0.map(excludedNodes) } ?? [Set<Int32>](repeating: [], count: users)
            // Scratch arrays reused by every step (the tensors come from the engine's buffer pool).
            var candidates: [Candidate] = [], best: [Candidate] = []
            candidates.reserveCapacity(width * 32); best.reserveCapacity(width + 1)
            var tokens: [Int32] = [], rowUser: [Int32] = [], parents: [Int32] = [], logits: [Float] = []
            var prefixRows: (first: [Int32], second: [Int32]) = ([], [])
            tokens.reserveCapacity(users * width); rowUser.reserveCapacity(users * width); parents.reserveCapacity(users * width)
            let prefixBuckets = model.config.prefixesInDecoder ? model.config.prefixBuckets : nil
            let logitBuckets = model.config.prefixesInLogits ? model.config.prefixBuckets : nil
            for t in 0..<levels {
                // The rows to decode, in (user, beam) order: the order their cache rows are in.
                tokens.removeAll(keepingCapacity: true); rowUser.removeAll(keepingCapacity: true)
                prefixRows.first.removeAll(keepingCapacity: true); prefixRows.second.removeAll(keepingCapacity: true)
                for u in 0..<users {
                    for beam in beams[u] where beam.row >= 0 {
                        tokens.append(t == 0 ? TokenLayout.pad : model.layout.token(modality: target, level: t - 1, code: beam.codes[t - 1]))
                        rowUser.append(Int32(u))
                        // The prefix c1 … ct this token completes, as `decoderPrefixRows` reads it in training.
                        guard let buckets = prefixBuckets else { continue }
                        let rows = t > 1 ? beam.prefix.rows(buckets: buckets) : (0, 0)
                        prefixRows.first.append(rows.0); prefixRows.second.append(rows.1)
                    }
                }
                let hidden = tokens.isEmpty ? nil : step(tokens: tokens, prefixRows: prefixBuckets == nil ? nil : prefixRows,
                                                         rowUser: rowUser, users: users, t: t, cross: cross,
                                                         crossMask: crossMask, cacheK: &cacheK, cacheV: &cacheV)
                // Candidates per user: every child of every beam, scored with the log-softmax over those children.
                parents.removeAll(keepingCapacity: true)
                var nextOpen: Int32 = 0
                for u in 0..<users {
                    candidates.removeAll(keepingCapacity: true)
                    for (b, beam) in beams[u].enumerated() {
                        let children = tree.children(of: beam.node)
                        if beam.row < 0 || children.count == 1 {
                            let child = children.lowerBound
                            if excluded[u].contains(child) { continue }
                            candidates.append((beam.score, Int32(b), child))
                            continue
                        }
                        logits.removeAll(keepingCapacity: true)
                        for child in children {
                            let code = tree.code(of: child)
                            var z = logit(hidden!, row: Int(beam.row), level: t, code: code)
                            // With `prefixLogits`, each child below the first level also scores with the rows of the
                            // prefix it completes, as `TokenLayout.childPrefixRows` picks them in training.
                            if t > 0, let buckets = logitBuckets {
                                var h = beam.prefix
                                h.append(model.layout.token(modality: target, level: t, code: code))
                                let (a, b) = h.rows(buckets: buckets)
                                z += tableDot(hidden!, row: Int(beam.row), tableRow: Int(a)) + tableDot(hidden!, row: Int(beam.row), tableRow: Int(b))
                            }
                            logits.append(z)
                        }
                        let top = logits.max()!
                        let logSum = top + Foundation.log(logits.reduce(Float(0)) { $0 + Foundation.exp($1 - top) })
                        for (child, z) in zip(children, logits) where !excluded[u].contains(child) {
                            candidates.append((beam.score + z - logSum, Int32(b), child))
                        }
                    }
                    Self.selectBest(candidates, keep: t == levels - 1 ? results : width, into: &best)
                    var row: [Beam] = []
                    row.reserveCapacity(width)
                    for c in best {
                        let parent = beams[u][Int(c.slot)]
                        let code = tree.code(of: c.child)
                        var prefix = parent.prefix
                        prefix.append(model.layout.token(modality: target, level: t, code: code))
                        var next = Beam(node: c.child, score: c.score, codes: parent.codes + [code], row: -1, prefix: prefix)
                        if parent.row >= 0 && !determined[Int(c.child)] {
                            next.row = nextOpen
                            nextOpen += 1
                            parents.append(parent.row)
                        }
                        row.append(next)
                    }
                    beams[u] = row
                }
                if t < levels - 1 {
                    for l in cacheK.indices {
                        cacheK[l] = parents.isEmpty ? nil : cacheK[l]?.indexSelect(axis: 0, parents)
                        cacheV[l] = parents.isEmpty ? nil : cacheV[l]?.indexSelect(axis: 0, parents)
                    }
                }
            }
            return beams.map { row in
                row.compactMap { beam in tree.item(ofLeaf: beam.node).map { Recommendation(item: $0, score: beam.score, codes: beam.codes) } }
            }
        }
    }

    /// Every decoder layer's cross-attention keys and values for every user, [U, S, HK] left-padded to the longest
    /// history, and the key-padding mask (nil when nothing is padded). Histories of one length are encoded together,
    /// so no encoder work goes to padding (relative position biases make the unpadded outputs the same).
    func crossKeysValues(_ histories: [[Int32]]) -> (keysValues: [(Tensor, Tensor)], mask: Tensor?) {
        let maxHistory = model.config.maxHistory
        let lengths = histories.map { min($0.count, maxHistory) }
        var groups: [Int: [Int]] = [:]
        for (u, length) in lengths.enumerated() { groups[length, default: []].append(u) }
        func encode(_ users: [Int]) -> [(Tensor, Tensor)] {
            var unused = SeededGenerator(seed: 0)
            let batch = items.batch(histories: users.map { histories[$0] }, targets: nil, maxHistory: maxHistory, rng: &unused)
            let encoded = model.encode(tokens: batch.encoderTokens, batch: users.count, items: batch.items, padding: batch.padding)
            return model.decoderLayers.map { (encoded.linear($0.crossAttention.key), encoded.linear($0.crossAttention.value)) }
        }
        if groups.count <= 1 { return (encode(Array(histories.indices)), nil) }
        let users = histories.count, sMax = (lengths.max() ?? 0) * model.layout.blockLength + 1
        var padding = [Float](repeating: 0, count: users * sMax)
        var keys: [[Float]] = [], values: [[Float]] = [], width = 0
        for (_, members) in groups.sorted(by: { $0.key < $1.key }) {
            let parts = encode(members)
            let s = parts[0].0.shape[1], lead = sMax - s
            if keys.isEmpty {
                width = parts[0].0.shape[2]
                keys = [[Float]](repeating: [Float](repeating: 0, count: users * sMax * width), count: parts.count)
                values = keys
            }
            // Row i of the group goes to user members[i], after its `lead` padding positions.
            func place(_ part: Tensor, into out: inout [Float]) {
                out.withUnsafeMutableBufferPointer { out in
                    for (i, u) in members.enumerated() {
                        (out.baseAddress! + (u * sMax + lead) * width).update(from: part.data + i * s * width, count: s * width)
                    }
                }
            }
            for (l, (k, v)) in parts.enumerated() { place(k, into: &keys[l]); place(v, into: &values[l]) }
            for u in members { for j in 0..<lead { padding[u * sMax + j] = 1 } }
        }
        let kv = zip(keys, values).map { (Tensor(shape: [users, sMax, width], scalars: $0), Tensor(shape: [users, sMax, width], scalars: $1)) }
        return (kv, AttentionMask.keyPadding(Tensor(shape: [users, sMax], scalars: padding)))
    }

    /// One decoder position for every decoded row (`rowUser[r]`: its user, non-decreasing): self-attention over the
    /// cache (appending this step's keys and values), cross-attention with each user's rows as the queries of one
    /// padded row of the batch, feed-forward, final norm. Returns [R, D].
    func step(tokens: [Int32], prefixRows: (first: [Int32], second: [Int32])?, rowUser: [Int32], users: Int, t: Int,
              cross: [(Tensor, Tensor)], crossMask: Tensor?, cacheK: inout [Tensor?], cacheV: inout [Tensor?]) -> Tensor {
        let n = tokens.count, eps = model.config.transformer.normEpsilon
        // Pad each user's rows to the widest user's count for the cross-attention kernel; `padded[u·w + j]` is the
        // row shown in slot j of user u (a repeat of one of its rows, or of row 0, beyond its count; those are dropped).
        var counts = [Int](repeating: 0, count: users)
        for u in rowUser { counts[Int(u)] += 1 }
        let w = max(1, counts.max() ?? 1)
        var padded = [Int32](repeating: 0, count: users * w), back = [Int32](repeating: 0, count: n)
        var first = 0
        for u in 0..<users {
            for j in 0..<w { padded[u * w + j] = Int32(counts[u] > 0 ? first + min(j, counts[u] - 1) : 0) }
            for j in 0..<counts[u] { back[first + j] = Int32(u * w + j) }
            first += counts[u]
        }
        let identity = w * users == n && counts.allSatisfy { $0 == w }
        let bias = model.decoderPositionBias(length: t + 1).slice(axis: 1, start: t, end: t + 1)   // [H, 1, t+1]
        var y = embedding(model.tokenEmbedding, indices: tokens, indexShape: [n, 1])
        if let prefixRows, let table = model.prefixEmbedding {
            y = y + embedding(table, indices: prefixRows.first, indexShape: [n, 1]) + embedding(table, indices: prefixRows.second, indexShape: [n, 1])
        }
        for (l, layer) in model.decoderLayers.enumerated() {
            let a = layer.selfAttention
            let x = y.rmsNorm(weight: layer.selfAttentionNorm, eps: eps)
            let k = x.linear(a.key), v = x.linear(a.value)
            let keys = cacheK[l].map { concat([$0, k], axis: 1) } ?? k
            let values = cacheV[l].map { concat([$0, v], axis: 1) } ?? v
            cacheK[l] = keys; cacheV[l] = values
            let mixed = scaledDotProductAttention(query: x.linear(a.query), key: keys, value: values, heads: a.heads,
                                                  scale: a.scale, bias: bias)
            y = y + mixed.linear(a.output)
            let c = layer.crossAttention
            let q = y.rmsNorm(weight: layer.crossAttentionNorm, eps: eps).linear(c.query)
            let width = q.shape[2]
            let queries = identity ? q : q.reshaped([n, width]).indexSelect(axis: 0, padded)
            let attended = scaledDotProductAttention(query: queries.reshaped([users, w, width]), key: cross[l].0, value: cross[l].1,
                                                     heads: c.heads, scale: c.scale, mask: crossMask)
            let rows = identity ? attended : attended.reshaped([users * w, width]).indexSelect(axis: 0, back)
            y = y + rows.reshaped([n, 1, width]).linear(c.output)
            y = y + layer.feedForward(y.rmsNorm(weight: layer.feedForwardNorm, eps: eps))
        }
        return y.rmsNorm(weight: model.decoderNorm, eps: eps).reshaped([n, model.config.transformer.dModel])
    }

    @inline(__always)
    func logit(_ hidden: Tensor, row: Int, level: Int, code: Int32) -> Float {
        let d = hidden.shape[1]
        let column = Int(model.layout.classOffsets[level] + code)
        return outputRows.withUnsafeBufferPointer { w in Self.dot(hidden.data + row * d, w.baseAddress! + column * d, d) }
    }

    /// Decoder state `row` dotted with row `tableRow` of the prefix table.
    @inline(__always)
    func tableDot(_ hidden: Tensor, row: Int, tableRow: Int) -> Float {
        let d = hidden.shape[1]
        return Self.dot(hidden.data + row * d, model.prefixEmbedding!.data + tableRow * d, d)
    }

    @inline(__always)
    static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ d: Int) -> Float {
        let h = UnsafeRawPointer(x), r = UnsafeRawPointer(y)
        // Eight lanes at a time: a plain `sum +=` loop is one dependent add per element (it cannot be reordered).
        var lanes = SIMD8<Float>(), i = 0
        while i + 8 <= d {
            lanes += h.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) * r.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            i += 8
        }
        var sum = lanes.sum()
        while i < d { sum += h.load(fromByteOffset: 4 * i, as: Float.self) * r.load(fromByteOffset: 4 * i, as: Float.self); i += 1 }
        return sum
    }

    typealias Candidate = (score: Float, slot: Int32, child: Int32)

    /// Best first: higher score, then lower beam slot, then lower child (a strict order: a slot's children differ).
    @inline(__always)
    static func precedes(_ a: Candidate, _ b: Candidate) -> Bool {
        a.score != b.score ? a.score > b.score : (a.slot != b.slot ? a.slot < b.slot : a.child < b.child)
    }

    /// The first `keep` candidates in `precedes` order, as sorting all of them would give, without sorting them all
    /// (a root can have 256 children, 20 beams thousands of candidates).
    static func selectBest(_ candidates: [Candidate], keep: Int, into best: inout [Candidate]) {
        best.removeAll(keepingCapacity: true)
        for c in candidates {
            if best.count == keep, !precedes(c, best[keep - 1]) { continue }
            var low = 0, high = best.count
            while low < high {
                let middle = (low + high) / 2
                if precedes(best[middle], c) { low = middle + 1 } else { high = middle }
            }
            best.insert(c, at: low)
            if best.count > keep { best.removeLast() }
        }
    }
}

/// Lets shards write disjoint elements of one buffer.
struct UncheckedBuffer<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T>
    init(_ buffer: UnsafeMutableBufferPointer<T>) { self.buffer = buffer }
}

import ItemCodes
import Foundation
import Models
import TensorEngine

// Shape legend: U users of a batch, W beams per user, N = U·W decoder rows, S encoder tokens, t decoding step
// (0-based), D model width, HK concatenated head width.

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

    public init(model: MSCGRec, items: ItemTokens, tree: PrefixTree) {
        precondition(tree.depth == model.layout.targetLevels, "tree depth \(tree.depth) vs \(model.layout.targetLevels) target levels")
        self.model = model; self.items = items; self.tree = tree
        let (d, c) = (model.outputProjection.shape[0], model.outputProjection.shape[1])
        let w = model.outputProjection.scalars
        var rows = [Float](repeating: 0, count: c * d)
        for i in 0..<d { for j in 0..<c { rows[j * d + i] = w[i * c + j] } }
        outputRows = rows
    }

    /// The top `results` items for every history (item indices, oldest first; the most recent `maxHistory` are read),
    /// best first, ties broken by beam order then code. `exclude[u]` (when given) removes those items at the last
    /// level, so the beam fills with others. Users are spread over the engine's workers, BLAS single-threaded in each.
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

    struct Beam {
        var node: Int32
        var score: Float
        var alive: Bool
    }

    /// One batch of users, on the calling thread.
    func search(_ histories: [[Int32]], beams width: Int, results: Int, exclude: [Set<Int32>]?) -> [[Recommendation]] {
        withoutGrad {
            var unused = SeededGenerator(seed: 0)
            let batch = items.batch(histories: histories, targets: nil, maxHistory: model.config.maxHistory, rng: &unused)
            let users = batch.size, levels = tree.depth
            let encoded = model.encode(tokens: batch.encoderTokens, batch: users, items: batch.items, padding: batch.padding)
            let s = encoded.shape[1]
            let crossMask = batch.padding.map { AttentionMask.keyPadding(Tensor(shape: [users, s], scalars: $0)) }
            let cross = model.decoderLayers.map { (encoded.linear($0.crossAttention.key), encoded.linear($0.crossAttention.value)) }
            var cacheK = [Tensor?](repeating: nil, count: model.decoderLayers.count), cacheV = cacheK
            var beams = (0..<users).map { _ in [Beam(node: PrefixTree.root, score: 0, alive: true)] }
            var codes = (0..<users).map { _ in [[Int32]()] }
            let target = model.layout.targetIndex
            for t in 0..<levels {
                let w = beams[0].count
                let tokens: [Int32] = beams.indices.flatMap { u in
                    (0..<w).map { b in t == 0 ? TokenLayout.pad : model.layout.token(modality: target, level: t - 1, code: codes[u][b][t - 1]) }
                }
                let hidden = step(tokens: tokens, users: users, beamsPerUser: w, t: t, cross: cross, crossMask: crossMask,
                                  cacheK: &cacheK, cacheV: &cacheV)
                // Candidates per user: every child of every live beam, scored with the log-softmax over those children.
                var parents: [Int32] = []
                var nextBeams: [[Beam]] = [], nextCodes: [[[Int32]]] = []
                for u in 0..<users {
                    var candidates: [(score: Float, slot: Int, child: Int32)] = []
                    for b in 0..<w where beams[u][b].alive {
                        let slot = u * w + b
                        let children = tree.children(of: beams[u][b].node)
                        let logits = children.map { logit(hidden, row: slot, level: t, code: tree.code(of: $0)) }
                        let top = logits.max() ?? 0
                        let logSum = top + Foundation.log(logits.reduce(Float(0)) { $0 + Foundation.exp($1 - top) })
                        for (child, z) in zip(children, logits) {
                            if t == levels - 1, let exclude, let item = tree.item(ofLeaf: child), exclude[u].contains(item) { continue }
                            candidates.append((beams[u][b].score + z - logSum, slot, child))
                        }
                    }
                    candidates.sort { $0.score != $1.score ? $0.score > $1.score : ($0.slot != $1.slot ? $0.slot < $1.slot : $0.child < $1.child) }
                    let kept = candidates.prefix(t == levels - 1 ? results : width)
                    var row: [Beam] = [], rowCodes: [[Int32]] = []
                    for c in kept {
                        row.append(Beam(node: c.child, score: c.score, alive: true))
                        rowCodes.append(codes[u][c.slot - u * w] + [tree.code(of: c.child)])
                        parents.append(Int32(c.slot))
                    }
                    // Fewer candidates than beams: dead slots keep shapes rectangular and are never expanded.
                    let slots = t == levels - 1 ? results : width
                    while row.count < slots {
                        row.append(Beam(node: PrefixTree.root, score: -.infinity, alive: false))
                        rowCodes.append(rowCodes.first ?? codes[u][0])
                        parents.append(Int32(u * w))
                    }
                    nextBeams.append(row); nextCodes.append(rowCodes)
                }
                beams = nextBeams; codes = nextCodes
                if t < levels - 1 {
                    for l in cacheK.indices {
                        cacheK[l] = cacheK[l]?.indexSelect(axis: 0, parents)
                        cacheV[l] = cacheV[l]?.indexSelect(axis: 0, parents)
                    }
                }
            }
            return (0..<users).map { u in
                zip(beams[u], codes[u]).compactMap { beam, c in
                    guard beam.alive, let item = tree.item(ofLeaf: beam.node) else { return nil }
                    return Recommendation(item: item, score: beam.score, codes: c)
                }
            }
        }
    }

    /// One decoder position for every beam: self-attention over the cache (appending this step's keys and values),
    /// cross-attention with the user's beams as queries of one row, feed-forward, final norm. Returns [N, D].
    func step(tokens: [Int32], users: Int, beamsPerUser w: Int, t: Int, cross: [(Tensor, Tensor)], crossMask: Tensor?,
              cacheK: inout [Tensor?], cacheV: inout [Tensor?]) -> Tensor {
        let n = tokens.count, eps = model.config.transformer.normEpsilon
        let bias = model.decoderPositionBias(length: t + 1).slice(axis: 1, start: t, end: t + 1)   // [H, 1, t+1]
        var y = embedding(model.tokenEmbedding, indices: tokens, indexShape: [n, 1])
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
            let attended = scaledDotProductAttention(query: q.reshaped([users, w, width]), key: cross[l].0, value: cross[l].1,
                                                     heads: c.heads, scale: c.scale, mask: crossMask)
            y = y + attended.reshaped([n, 1, width]).linear(c.output)
            y = y + layer.feedForward(y.rmsNorm(weight: layer.feedForwardNorm, eps: eps))
        }
        return y.rmsNorm(weight: model.decoderNorm, eps: eps).reshaped([n, model.config.transformer.dModel])
    }

    @inline(__always)
    func logit(_ hidden: Tensor, row: Int, level: Int, code: Int32) -> Float {
        let d = hidden.shape[1]
        let column = Int(model.layout.classOffsets[level] + code)
        var sum: Float = 0
        outputRows.withUnsafeBufferPointer { w in
            let h = hidden.data + row * d, r = w.baseAddress! + column * d
            for i in 0..<d { sum += h[i] * r[i] }
        }
        return sum
    }
}

/// Lets shards write disjoint elements of one buffer.
struct UncheckedBuffer<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T>
    init(_ buffer: UnsafeMutableBufferPointer<T>) { self.buffer = buffer }
}

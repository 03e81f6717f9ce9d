import Foundation
import Models
import MSCCore
import TensorEngine

/// `training.distillation`: MSCGRec learns each target code from a blend of the observed code and a trained SASRec's
/// next-item distribution carried onto the prefix tree (not in the paper; off unless configured). The collaborative
/// codes keep only part of what SASRec ranks with (69% of its Beauty R@10 through the codes' reconstructions); the
/// teacher's soft targets tell the decoder which siblings of the observed code are plausible as well.
public struct DistillationOptions: Codable, Sendable, Equatable {
    /// The teacher's share m of every target code's distribution: (1 − m)·observed + m·teacher. 0.8 had the best
    /// validation NDCG@10 on Beauty (against 0.5 and 1.0) and was second to 1.0 by 0.5% on Scientific.
    public var weight: Float = 0.8
    /// Softmax temperature of the teacher's item scores (1: SASRec's own distribution).
    public var temperature: Float = 1
    /// Drop the teacher's mass on the history's items (but the target) before carrying it onto the tree. SASRec with
    /// tied item embeddings puts about 40% of its mass on items already in the history (its top item is one 83–92% of
    /// the time on Beauty and Scientific, `mscgrec-bench teacher`), while these datasets' targets are never repeats.
    public var excludeHistory = true
    /// Also decode the paths of the teacher's N most probable other items (not the target, not in the history), each
    /// with the same blend of its own code and the teacher's q_l. The observed path alone only teaches the decoder's
    /// distributions under the target's prefixes; the beam search also weighs the children of the prefixes the
    /// teacher ranks next. Levels whose prefix is the target's repeat the target's rows and are left out.
    public var extraPaths = 0
    /// An argument left out keeps the default above (one place for each default).
    public init(weight: Float? = nil, temperature: Float? = nil, excludeHistory: Bool? = nil, extraPaths: Int? = nil) {
        if let weight { self.weight = weight }
        if let temperature { self.temperature = temperature }
        if let excludeHistory { self.excludeHistory = excludeHistory }
        if let extraPaths { self.extraPaths = extraPaths }
    }

    public init(from decoder: Decoder) throws {
        for key in try decoder.container(keyedBy: AnyKey.self).allKeys where CodingKeys(stringValue: key.stringValue) == nil {
            throw ConfigError("unknown field training.distillation.\(key.stringValue) (known: excludeHistory, extraPaths, temperature, weight)")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        weight = try c.decodeIfPresent(Float.self, forKey: .weight) ?? weight
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? temperature
        excludeHistory = try c.decodeIfPresent(Bool.self, forKey: .excludeHistory) ?? excludeHistory
        extraPaths = try c.decodeIfPresent(Int.self, forKey: .extraPaths) ?? extraPaths
        guard (0...16).contains(extraPaths) else { throw ConfigError("training.distillation.extraPaths must lie in 0…16, not \(extraPaths)") }
        guard weight >= 0, weight <= 1 else { throw ConfigError("training.distillation.weight must lie in [0, 1], not \(weight)") }
        guard temperature > 0, temperature.isFinite else { throw ConfigError("training.distillation.temperature must be positive, not \(temperature)") }
    }

    enum CodingKeys: String, CodingKey { case weight, temperature, excludeHistory, extraPaths }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(weight, forKey: .weight)
        try c.encode(temperature, forKey: .temperature)
        try c.encode(excludeHistory, forKey: .excludeHistory)
        // Left out at its default, so the stage records of runs made before the field existed still match (no retraining).
        if extraPaths != 0 { try c.encode(extraPaths, forKey: .extraPaths) }
    }
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// A trained SASRec (or several) as MSCGRec's teacher. For a history it scores every item, takes the softmax p(i) over
/// the items that have the target modality (several SASRecs: the mean of their softmaxes, an ensemble's mixture), and
/// along the observed target's code path gives each level l the distribution
/// q_l(c) = Σ_{i under prefix·c} p(i) / Σ_{i under prefix} p(i) over the prefix's children: exactly the classes of
/// eq. 6's constrained row, and Π_l q_l(path(i)) = p(i), so a decoder matching every q_l ranks items as SASRec does.
public struct SASRecTeacher {
    /// One or more SASRec runs of the same dataset. Two Beauty seeds rank better together than either, yet their
    /// student ended where one teacher's did (README, "A better teacher does not make a better student").
    public let models: [SASRec]
    let levels: Int
    /// [items × levels] target-modality codes.
    let paths: [Int32]
    /// Items with the target modality, sorted by code path: every prefix's items form one contiguous run.
    let order: [Int32]
    /// Each item's position in `order` (−1 for items without the target modality).
    let positionInOrder: [Int32]
    let classOffsets: [Int32]

    public init(model: SASRec, items: ItemTokens) throws { try self.init(models: [model], items: items) }

    public init(models: [SASRec], items: ItemTokens) throws {
        guard !models.isEmpty else { throw ConfigError("a teacher needs at least one SASRec run") }
        for model in models where model.config.items != items.itemCount {
            throw ConfigError("the teacher SASRec knows \(model.config.items) items, the codes cover \(items.itemCount) (a SASRec of another dataset?)")
        }
        self.models = models
        levels = items.layout.targetLevels
        paths = items.targetCodes
        classOffsets = items.layout.classOffsets
        let (paths, levels) = (items.targetCodes, items.layout.targetLevels)
        order = (0..<items.itemCount).filter { items.hasTarget[$0] }.map(Int32.init).sorted { a, b in
            paths[Int(a) * levels..<Int(a + 1) * levels].lexicographicallyPrecedes(paths[Int(b) * levels..<Int(b + 1) * levels])
        }
        var positions = [Int32](repeating: -1, count: items.itemCount)
        for (j, item) in order.enumerated() { positions[Int(item)] = Int32(j) }
        positionInOrder = positions
    }

    /// A path decoded besides the observed one: `example`'s teacher-ranked `item`. Its levels before `firstNewLevel`
    /// condition on the target's own prefix (the same rows as the target's), so only the later ones are trained.
    public struct ExtraPath: Equatable, Sendable {
        public let example: Int, item: Int32, firstNewLevel: Int
    }

    public struct Targets {
        /// Every target's rows (example-major, level-minor), then every extra path's (empty before its `firstNewLevel`).
        public let soft: SoftTargets
        public let extraPaths: [ExtraPath]
    }

    /// Soft targets for a batch, rows in the order of `MSCGRecBatch.labels`, and the extra paths to decode.
    /// `histories` hold item indices (SASRec sees at most its `maxLength` most recent); `targets` the observed items.
    public func targets(histories: [ArraySlice<Int32>], targets: [Int32], options: DistillationOptions) -> Targets {
        precondition(histories.count == targets.count, "\(histories.count) histories, \(targets.count) targets")
        let scores = itemScores(histories)
        let n = models[0].config.items
        var rows = [(own: LevelDistributions, extra: [(ExtraPath, LevelDistributions)])](repeating: (LevelDistributions(), []), count: targets.count)
        rows.withUnsafeMutableBufferPointer { out in
            Parallelism.forEachChunk(targets.count, grain: 8) { range in
                var probabilities = [Float](repeating: 0, count: order.count)
                var scratch = [Float](repeating: 0, count: models.count > 1 ? order.count : 0)
                for r in range {
                    let rows = scores.map { UnsafeBufferPointer(start: $0.data + r * n, count: n) }
                    itemProbabilities(scores: rows, temperature: options.temperature, target: targets[r],
                                      excluding: options.excludeHistory ? histories[r] : [], into: &probabilities, scratch: &scratch)
                    out[r].own = levelDistributions(probabilities, along: targets[r])
                    for item in mostProbable(options.extraPaths, probabilities, except: targets[r], history: histories[r]) {
                        let first = (0..<levels).first { paths[Int(item) * levels + $0] != paths[Int(targets[r]) * levels + $0] } ?? levels
                        var levelRows = levelDistributions(probabilities, along: item)
                        levelRows.dropLevels(through: first)
                        out[r].extra.append((ExtraPath(example: r, item: item, firstNewLevel: first + 1), levelRows))
                    }
                }
            }
        }
        var offsets: [Int32] = [0], classes: [Int32] = [], weights: [Float] = []
        func append(_ row: LevelDistributions) {
            for end in row.levelEnds { offsets.append(Int32(classes.count + end)) }
            classes += row.classes; weights += row.weights
        }
        for row in rows { append(row.own) }
        var extra: [ExtraPath] = []
        for row in rows { for (path, levelRows) in row.extra { append(levelRows); extra.append(path) } }
        return Targets(soft: SoftTargets(offsets: offsets, classes: classes, weights: weights, mix: options.weight), extraPaths: extra)
    }

    /// The `count` items of highest probability other than `target` and the history's items (in the order of
    /// `order` among equals), most probable first.
    func mostProbable(_ count: Int, _ probabilities: [Float], except target: Int32, history: ArraySlice<Int32>) -> [Int32] {
        guard count > 0 else { return [] }
        var best: [(p: Float, j: Int)] = []
        for (j, p) in probabilities.enumerated() where p > 0 && order[j] != target {
            guard best.count < count || p > best[best.count - 1].p else { continue }
            guard !history.contains(order[j]) else { continue }
            let at = best.firstIndex { p > $0.p } ?? best.count
            best.insert((p, j), at: at)
            if best.count > count { best.removeLast() }
        }
        return best.map { order[$0.j] }
    }

    /// Each SASRec's scores of every item after each history: one [B, n] per model.
    func itemScores(_ histories: [ArraySlice<Int32>]) -> [Tensor] {
        models.map { model in
            let length = max(1, min(model.config.maxLength, histories.map(\.count).max() ?? 1))
            var ids = [Int32](repeating: 0, count: histories.count * length)
            for (row, history) in histories.enumerated() {
                let recent = history.suffix(length), offset = row * length + length - recent.count
                for (j, item) in recent.enumerated() { ids[offset + j] = item + 1 }
            }
            return model.lastPositionScores(ids: ids, batch: histories.count)
        }
    }

    /// One example's q_l for every level, concatenated: level l's children (classes, level offset added) and weights
    /// end at `levelEnds[l]`.
    struct LevelDistributions {
        var classes: [Int32] = [], weights: [Float] = [], levelEnds: [Int] = []

        /// Levels 0…`level` become empty rows (the cross-entropy skips them).
        mutating func dropLevels(through level: Int) {
            guard level >= 0 else { return }
            let cut = levelEnds[min(level, levelEnds.count - 1)]
            classes.removeSubrange(..<cut); weights.removeSubrange(..<cut)
            levelEnds = levelEnds.map { max(0, $0 - cut) }
        }
    }

    /// The teacher's unnormalised p over `order` (one model: exp of the scores at `temperature`, shifted by their
    /// maximum; several: the sum of their softmaxes over `order`, ∝ their mean); the `excluded` items other than the
    /// target get no mass. `scratch` holds a further model's exponentials (`order.count` entries when there are several).
    func itemProbabilities(scores: [UnsafeBufferPointer<Float>], temperature: Float, target: Int32, excluding excluded: ArraySlice<Int32>,
                           into probabilities: inout [Float], scratch: inout [Float]) {
        /// exp((s − max) / T) over `order` into `out`; returns their sum.
        func exponentials(_ scores: UnsafeBufferPointer<Float>, into out: inout [Float]) -> Double {
            var maximum = scores[Int(target)]
            for item in order { maximum = max(maximum, scores[Int(item)]) }
            var total = 0.0
            for (j, item) in order.enumerated() {
                out[j] = Foundation.exp((scores[Int(item)] - maximum) / temperature)
                total += Double(out[j])
            }
            return total
        }
        // One model keeps its unnormalised exponentials (the per-level shares normalise them); a mixture needs each
        // model's distribution normalised before the sum.
        let total = exponentials(scores[0], into: &probabilities)
        if scores.count > 1 {
            let scale = Float(1 / total)
            for j in probabilities.indices { probabilities[j] *= scale }
            for model in scores.dropFirst() {
                let scale = Float(1 / exponentials(model, into: &scratch))
                for j in probabilities.indices { probabilities[j] += scratch[j] * scale }
            }
        }
        for item in excluded where item != target {
            let j = positionInOrder[Int(item)]
            if j >= 0 { probabilities[Int(j)] = 0 }
        }
    }

    /// Level by level along `item`'s path: each prefix's children and their shares of the prefix's mass.
    func levelDistributions(_ probabilities: [Float], along item: Int32) -> LevelDistributions {
        var out = LevelDistributions()
        var (lo, hi) = (0, order.count)
        for level in 0..<levels {
            let observed = paths[Int(item) * levels + level]
            let start = out.classes.count
            var total = 0.0, next = (lo, lo), j = lo
            while j < hi {
                let code = paths[Int(order[j]) * levels + level], runStart = j
                var mass = 0.0
                while j < hi, paths[Int(order[j]) * levels + level] == code { mass += Double(probabilities[j]); j += 1 }
                if code == observed { next = (runStart, j) }
                out.classes.append(code + classOffsets[level]); out.weights.append(Float(mass)); total += mass
            }
            precondition(next.1 > next.0, "item \(item) has no code path among the items with the target modality")
            if total > 0 {
                for k in start..<out.weights.count { out.weights[k] = Float(Double(out.weights[k]) / total) }
            } else {   // every child's probability underflowed: this level keeps its observed code alone
                out.classes.removeSubrange(start...); out.weights.removeSubrange(start...)
            }
            out.levelEnds.append(out.classes.count)
            (lo, hi) = next
        }
        return out
    }
}

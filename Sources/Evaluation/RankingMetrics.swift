import Foundation

/// Top-K ranking metrics for next-item prediction with one held-out target per user (paper section 4.1).
///
/// Every evaluated user contributes its target's 1-based rank `r` over the full item set, or `nil` when the target
/// is absent from the predictions (e.g. a beam search that returned fewer than K items). For each cutoff K:
/// Recall@K = [r ≤ K], NDCG@K = 1/log2(r+1) if r ≤ K else 0, MRR@K = 1/r if r ≤ K else 0, each averaged over users.
/// Sums are kept in Double so accumulators from parallel workers can be merged without loss of order-dependence
/// beyond the last bits.
public struct RankingMetrics: Sendable, Equatable {
    /// The cutoffs K, ascending and unique.
    public let cutoffs: [Int]
    /// Number of users added so far (hits and misses alike).
    public private(set) var users: Int = 0
    /// Every user's rank in the order added (merged accumulators append theirs), 0 for a target not predicted: what
    /// `RankList` writes, so two models evaluated on the same users can be compared user by user.
    public private(set) var ranks: [Int32] = []
    private var hitSums: [Double]
    private var ndcgSums: [Double]
    private var reciprocalRankSums: [Double]

    /// The paper's cutoffs.
    public static let paperCutoffs = [1, 5, 10]

    public init(cutoffs: [Int] = RankingMetrics.paperCutoffs) {
        let cleaned = Array(Set(cutoffs.filter { $0 > 0 })).sorted()
        precondition(!cleaned.isEmpty, "RankingMetrics needs at least one positive cutoff")
        self.cutoffs = cleaned
        hitSums = Array(repeating: 0, count: cleaned.count)
        ndcgSums = hitSums
        reciprocalRankSums = hitSums
    }

    /// Adds one user whose target was ranked at `rank` (1-based), or `nil` when it was not predicted at all.
    /// A rank below 1 is a caller bug, not data, hence the precondition.
    public mutating func add(rank: Int?) {
        users += 1
        guard let rank else { ranks.append(0); return }
        precondition(rank >= 1, "ranks are 1-based, got \(rank)")
        ranks.append(Int32(clamping: rank))
        for (slot, k) in cutoffs.enumerated() {
            let user = Self.userValues(rank: rank, cutoff: k)
            hitSums[slot] += user.hit
            ndcgSums[slot] += user.gain
            reciprocalRankSums[slot] += user.reciprocal
        }
    }

    /// One user's Recall@K, NDCG@K and MRR@K for a 1-based `rank` (0 or beyond K: a miss): the one definition that
    /// both the averages here and `PairedComparison`'s per-user differences use.
    public static func userValues(rank: Int, cutoff k: Int) -> (hit: Double, gain: Double, reciprocal: Double) {
        guard rank >= 1, rank <= k else { return (0, 0, 0) }
        return (1, 1 / log2(Double(rank) + 1), 1 / Double(rank))
    }

    /// Adds one user from a ranked prediction list (best first). Repeated items count once, at their first
    /// position, so a model that emits duplicates is not rewarded for them; a target missing from the list is a miss.
    public mutating func add<Predictions: Sequence>(ranked predictions: Predictions, target: Predictions.Element)
    where Predictions.Element: Hashable {
        add(rank: Ranking.rank(of: target, inRankedList: predictions))
    }

    /// Adds every user of another accumulator with the same cutoffs (parallel evaluation).
    public mutating func merge(_ other: RankingMetrics) {
        precondition(other.cutoffs == cutoffs, "cannot merge metrics with cutoffs \(other.cutoffs) into \(cutoffs)")
        users += other.users
        ranks += other.ranks
        for slot in cutoffs.indices {
            hitSums[slot] += other.hitSums[slot]
            ndcgSums[slot] += other.ndcgSums[slot]
            reciprocalRankSums[slot] += other.reciprocalRankSums[slot]
        }
    }

    public func recall(at k: Int) -> Double { mean(hitSums, k) }
    public func ndcg(at k: Int) -> Double { mean(ndcgSums, k) }
    public func mrr(at k: Int) -> Double { mean(reciprocalRankSums, k) }

    /// With no users every metric is 0 rather than NaN, so reports stay valid JSON.
    private func mean(_ sums: [Double], _ k: Int) -> Double {
        guard let slot = cutoffs.firstIndex(of: k) else {
            preconditionFailure("cutoff \(k) not tracked; tracked: \(cutoffs)")
        }
        return users == 0 ? 0 : sums[slot] / Double(users)
    }

    /// The report with keys `recall@K`, `ndcg@K`, `mrr@K` for every cutoff, plus `users` and `split`.
    public func report(split: String) -> MetricsReport {
        var values: [(String, Double)] = []
        for k in cutoffs { values.append(("recall@\(k)", recall(at: k))) }
        for k in cutoffs { values.append(("ndcg@\(k)", ndcg(at: k))) }
        for k in cutoffs { values.append(("mrr@\(k)", mrr(at: k))) }
        return MetricsReport(values: values, users: users, split: split)
    }
}

/// Turning predictions into the 1-based rank of the target.
public enum Ranking {
    /// How items scoring exactly like the target are ordered relative to it.
    public enum TiePolicy: Sendable {
        /// The target comes after every tied item: a model that scores everything equal gets the worst rank,
        /// never a lucky first place. The default.
        case pessimistic
        /// The target comes before every tied item (an upper bound, for diagnostics only).
        case optimistic
    }

    /// The position (1-based) of `target` among the distinct items of `predictions`, or nil when absent.
    public static func rank<Predictions: Sequence>(of target: Predictions.Element, inRankedList predictions: Predictions)
        -> Int? where Predictions.Element: Hashable
    {
        var seen = Set<Predictions.Element>()
        for item in predictions where seen.insert(item).inserted {
            if item == target { return seen.count }
        }
        return nil
    }

    /// The rank of item `target` under full ranking by `scores` (higher is better). Items listed in `excluded`
    /// (e.g. padding) do not take part; the target itself is never excluded. A NaN score counts as the lowest
    /// possible score, so a diverged model ranks the target last rather than first.
    public static func rank(
        ofItem target: Int, scores: UnsafeBufferPointer<Float>, excluded: Set<Int> = [], ties: TiePolicy = .pessimistic
    ) -> Int {
        precondition(scores.indices.contains(target), "target \(target) outside \(scores.count) scores")
        let targetScore = scores[target].isNaN ? -Float.infinity : scores[target]
        // Count over every item, then take the excluded ones back out: O(n + |excluded|), no hashing per item.
        var (better, tied) = targetScore.isFinite ? countFinite(scores, against: targetScore) : countAny(scores, against: targetScore)
        tied -= 1  // the target itself
        for index in excluded where index != target && scores.indices.contains(index) {
            let score = scores[index].isNaN ? -Float.infinity : scores[index]
            if score > targetScore { better -= 1 } else if score == targetScore { tied -= 1 }
        }
        switch ties {
        case .pessimistic: return better + tied + 1
        case .optimistic: return better + 1
        }
    }

    /// Scores above and equal to `t`, NaN counting as −∞ (the reference for `countFinite`).
    static func countAny(_ scores: UnsafeBufferPointer<Float>, against t: Float) -> (better: Int, tied: Int) {
        var better = 0, tied = 0
        for raw in scores {
            let score = raw.isNaN ? -Float.infinity : raw
            if score > t { better += 1 } else if score == t { tied += 1 }
        }
        return (better, tied)
    }

    /// The same counts for a finite `t`, eight lanes at a time: a NaN compares false both ways, so it already
    /// counts as below a finite target, as −∞ would. This loop is the whole cost of full-ranking evaluation.
    static func countFinite(_ scores: UnsafeBufferPointer<Float>, against t: Float) -> (better: Int, tied: Int) {
        precondition(t.isFinite)
        guard let base = scores.baseAddress else { return (0, 0) }
        let n = scores.count, lanes = n / 8 * 8
        var betterLanes = SIMD8<Int32>(), tiedLanes = SIMD8<Int32>()
        let threshold = SIMD8<Float>(repeating: t), one = SIMD8<Int32>(repeating: 1), zero = SIMD8<Int32>()
        var i = 0
        while i < lanes {
            let v = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self)
            betterLanes &+= zero.replacing(with: one, where: v .> threshold)
            tiedLanes &+= zero.replacing(with: one, where: v .== threshold)
            i += 8
        }
        var better = Int(betterLanes.wrappedSum()), tied = Int(tiedLanes.wrappedSum())
        for j in lanes..<n {
            if base[j] > t { better += 1 } else if base[j] == t { tied += 1 }
        }
        return (better, tied)
    }

    /// Convenience over an array of scores.
    public static func rank(
        ofItem target: Int, scores: [Float], excluded: Set<Int> = [], ties: TiePolicy = .pessimistic
    ) -> Int {
        scores.withUnsafeBufferPointer { rank(ofItem: target, scores: $0, excluded: excluded, ties: ties) }
    }
}

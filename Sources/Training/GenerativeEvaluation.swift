import Datasets
import Foundation
import Generation
import Evaluation

/// Recall/NDCG/MRR@1/5/10 of a generative recommender: each user's held-out item is ranked where the constrained beam
/// search (paper 4.1: 20 beams) puts it, and counts as missed when the search does not return it.
public enum GenerativeEvaluation {
    public enum Split: String, Sendable, CaseIterable { case valid, test }

    /// `excludeHistory` removes every item the user interacted with before the held-out one (the published rows'
    /// protocol); `users` (default all) are searched in batches spread over the workers. `progress(done, total)` after every chunk.
    public static func evaluate(_ search: ConstrainedBeamSearch, dataset: PreparedDataset, split: Split, excludeHistory: Bool,
                                beams: Int = 20, results: Int = 10, users: [Int]? = nil,
                                progress: (Int, Int) -> Void = { _, _ in }) -> RankingMetrics {
        let examples = (users ?? Array(0..<dataset.userCount)).map { split == .valid ? dataset.validationExample(ofUser: $0) : dataset.testExample(ofUser: $0) }
        var metrics = RankingMetrics()
        let chunk = 1024
        for start in stride(from: 0, to: examples.count, by: chunk) {
            let part = examples[start..<min(examples.count, start + chunk)]
            let exclude: [Set<Int32>]? = excludeHistory ? part.map { excludedItems($0, dataset: dataset, split: split) } : nil
            let found = search.recommend(histories: part.map { Array($0.history) }, beams: beams, results: results, exclude: exclude)
            for (e, list) in zip(part, found) { metrics.add(ranked: list.map(\.item), target: e.target) }
            progress(min(examples.count, start + chunk), examples.count)
        }
        return metrics
    }

    /// Every item the user saw before the held-out one, but never the held-out item itself: `Ranking.rank` treats the
    /// full-ranking models (SASRec) the same way, so a repeated target counts alike in both rows of a comparison.
    static func excludedItems(_ example: SequenceExample, dataset: PreparedDataset, split: Split) -> Set<Int32> {
        var items = Set(dataset.sequences.sequence(ofUser: example.user).dropLast(split == .valid ? 2 : 1))
        items.remove(example.target)
        return items
    }
}

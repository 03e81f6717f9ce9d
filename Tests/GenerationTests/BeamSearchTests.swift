import ItemCodes
import Foundation
@testable import Generation
import Models
import SafeTensors
import TensorEngine
import TestSupport
import XCTest

/// The cached, batched beam search against the straightforward PyTorch one (scripts/make_beam_fixtures.py) on the
/// same weights: same items in the same order, scores within float32 tolerance; an exact tie at the first level, a tree
/// with single-child prefixes, histories of different lengths (one empty), and exclusion sets that cover whole prefixes
/// (dropping excluded items only at the last level gives other answers there: the fixture script checks).
final class BeamSearchTests: XCTestCase {
    func load() throws -> (SafeTensors, ConstrainedBeamSearch, [[Int32]], [Set<Int32>]) {
        let f = try loadFixture("beam_search.safetensors", in: Bundle.module)
        let config = try JSONDecoder().decode(MSCGRecConfig.self, from: Data(try XCTUnwrap(f.metadata["config"]).utf8))
        var weights = SafeTensors()
        for name in f.names where name.hasPrefix("weight.") { weights.add(String(name.dropFirst("weight.".count)), try f.tensor(name)) }
        let model = try MSCGRec(config, weights: weights)
        let collab = try f.indices("collab_codes"), collabPresent = try f.ints("collab_present").map { $0 != 0 }
        let items = try ItemTokens(layout: model.layout, modalities: [
            (try f.indices("text_codes"), try f.ints("text_present").map { $0 != 0 }), (collab, collabPresent)])
        let tree = try PrefixTree(codes: collab, depth: 3, codebookSizes: [3, 3, 2], present: collabPresent)
        func rows(_ name: String) throws -> [[Int32]] {
            let values = try f.indices(name), width = try f.shape(name)[1]
            return stride(from: 0, to: values.count, by: width).map { Array(values[$0..<$0 + width].filter { $0 >= 0 }) }
        }
        return (f, ConstrainedBeamSearch(model: model, items: items, tree: tree), try rows("histories"), try rows("exclude").map(Set.init))
    }

    func testBatchedCachedSearchMatchesTheReferenceSearch() throws {
        let (f, search, histories, exclude) = try load()
        let beams = Int(try XCTUnwrap(f.metadata["beams"]))!, results = Int(try XCTUnwrap(f.metadata["results"]))!
        for (kind, excluded) in [("plain", nil), ("excluded", Optional(exclude))] {
            let expectedItems = try f.indices("\(kind).items"), expectedScores = try f.floats("\(kind).scores")
            let expectedCodes = try f.indices("\(kind).codes")
            // Every batching gives the same answer: all users at once, one at a time.
            for perBatch in [64, 1] {
                let found = search.recommend(histories: histories, beams: beams, results: results, exclude: excluded, usersPerBatch: perBatch)
                for (u, list) in found.enumerated() {
                    XCTAssertEqual(list.map(\.item), Array(expectedItems[u * results..<(u + 1) * results]), "\(kind) user \(u) (batch \(perBatch))")
                    for (r, rec) in list.enumerated() {
                        XCTAssertEqual(rec.score, expectedScores[u * results + r], accuracy: 1e-4, "\(kind) user \(u) rank \(r) score")
                        XCTAssertEqual(rec.codes, Array(expectedCodes[(u * results + r) * 3..<(u * results + r + 1) * 3]))
                    }
                    if let excluded { XCTAssertTrue(list.allSatisfy { !excluded[u].contains($0.item) }, "user \(u) got an excluded item") }
                }
            }
        }
    }

    /// With `decoderPrefixes` (and `prefixLogits`) the search's cached steps read the prefix table as the
    /// teacher-forced decoder does: every result's score is the sum of the model's constrained log-softmax along its
    /// codes (and the table changes them, at the inputs and again at the logits).
    func testPrefixTableSearchesScoreAsTheTeacherForcedModel() throws {
        let (f, plain, histories, _) = try load()
        let maxHistory = plain.model.config.maxHistory, levels = plain.tree.depth
        func teacherForcedScore(_ model: MSCGRec, history: [Int32], item: Int32) -> Float {
            var unused = SeededGenerator(seed: 0)
            let batch = plain.items.batch(histories: [history], targets: [item], maxHistory: maxHistory, rng: &unused)
            // Each level's children along the target's path, as the trainer's allowed classes.
            var node = PrefixTree.root, childCodes: [[Int32]] = []
            for code in batch.targetCodes[0] {
                childCodes.append(Array(plain.tree.childCodes(of: node)))
                node = plain.tree.child(of: node, code: code)!
            }
            let allowed = AllowedClasses(rows: childCodes.enumerated().map { t, codes in codes.map { $0 + model.layout.classOffsets[t] } })
            let logits = withoutGrad { model.logits(batch, allowed: allowed) }.scalars, classes = model.layout.classCount
            var score: Float = 0
            for (t, code) in batch.targetCodes[0].enumerated() {
                let row = logits[t * classes..<(t + 1) * classes], offset = Int(model.layout.classOffsets[t])
                let children = childCodes[t].map { row[row.startIndex + offset + Int($0)] }
                let top = children.max()!, logSum = top + log(children.reduce(Float(0)) { $0 + exp($1 - top) })
                score += row[row.startIndex + offset + Int(code)] - logSum
            }
            return score
        }
        let buckets = 17
        var weights = plain.model.weights(), rng = SeededGenerator(seed: 5)
        weights.add("encoder.prefix_embedding", Tensor.normal([buckets + 1, plain.model.config.transformer.dModel], std: 0.7, using: &rng))
        func search(logits: Bool) throws -> ConstrainedBeamSearch {
            var config = plain.model.config
            config.prefixBuckets = buckets; config.decoderPrefixes = true; config.formatVersion = logits ? 4 : 3
            config.prefixLogits = logits ? true : nil
            return ConstrainedBeamSearch(model: try MSCGRec(config, weights: weights), items: plain.items, tree: plain.tree)
        }
        let beams = Int(try XCTUnwrap(f.metadata["beams"]))!
        var previous: MSCGRec?
        for search in [plain, try search(logits: false), try search(logits: true)] {
            var differs = false
            for perBatch in [64, 1] {
                let found = search.recommend(histories: histories, beams: beams, results: 4, usersPerBatch: perBatch)
                for (u, list) in found.enumerated() where !histories[u].isEmpty {
                    for rec in list {
                        XCTAssertEqual(rec.codes.count, levels)
                        XCTAssertEqual(rec.score, teacherForcedScore(search.model, history: histories[u], item: rec.item), accuracy: 2e-4,
                                       "user \(u) item \(rec.item) (batch \(perBatch), format \(search.model.config.formatVersion))")
                        if let previous {
                            differs = differs || abs(rec.score - teacherForcedScore(previous, history: histories[u], item: rec.item)) > 1e-3
                        }
                    }
                }
            }
            if let previous { XCTAssertTrue(differs, "format \(search.model.config.formatVersion) scores as format \(previous.config.formatVersion) does") }
            previous = search.model
        }
    }

    /// The bounded selection keeps exactly the first `keep` of a full sort, ties broken the same way.
    func testSelectingTheBestEqualsSortingAll() {
        var rng = SeededGenerator(seed: 3)
        var best: [ConstrainedBeamSearch.Candidate] = []
        for (count, keep) in [(0, 5), (3, 5), (5, 5), (300, 20), (1000, 1), (2000, 20)] {
            // Scores from a handful of values, so most comparisons are ties on score.
            let candidates: [ConstrainedBeamSearch.Candidate] = (0..<count).map { i in
                (score: -Float(Int(rng.uniform() * 6)), slot: Int32(Int(rng.uniform() * 20)), child: Int32(i))
            }.shuffled(using: &rng)
            ConstrainedBeamSearch.selectBest(candidates, keep: keep, into: &best)
            let sorted = candidates.sorted(by: ConstrainedBeamSearch.precedes).prefix(keep)
            XCTAssertEqual(best.map(\.child), sorted.map(\.child), "\(count) candidates, keep \(keep)")
        }
    }

    func testTiesAndScoresAreOrderedAndDistinct() throws {
        let (_, search, histories, _) = try load()
        let found = search.recommend(histories: histories, beams: 4, results: 4)
        for list in found {
            XCTAssertEqual(Set(list.map(\.item)).count, list.count, "items are distinct")
            XCTAssertEqual(list.map(\.score), list.map(\.score).sorted(by: >), "best first")
            XCTAssertTrue(list.allSatisfy { $0.score <= 0 }, "sums of log-probabilities")
        }
        // Beam width 1 is greedy decoding: its item is the first of a wider search only when no beam overtakes it;
        // it must at least be a valid item of the tree with its own codes.
        let greedy = search.recommend(histories: histories, beams: 1, results: 1)
        for (u, list) in greedy.enumerated() {
            XCTAssertEqual(list.count, 1)
            XCTAssertEqual(search.tree.item(forSequence: list[0].codes), list[0].item, "user \(u)")
        }
    }
}

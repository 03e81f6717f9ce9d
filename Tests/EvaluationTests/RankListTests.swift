import XCTest
@testable import Evaluation

final class RankListTests: XCTestCase {
    func testMetricsKeepEachUsersRankInOrderAndMergeAppends() {
        var first = RankingMetrics(), second = RankingMetrics()
        for rank in [1, 3, 7, nil, 12] { first.add(rank: rank) }
        second.add(ranked: [5, 9], target: 9)
        second.add(rank: nil)
        XCTAssertEqual(first.ranks, [1, 3, 7, 0, 12])
        first.merge(second)
        XCTAssertEqual(first.ranks, [1, 3, 7, 0, 12, 2, 0])
        XCTAssertEqual(first.users, first.ranks.count)
    }

    func testTextRoundTripKeepsRanksAndSplit() throws {
        let list = RankList(ranks: [1, 0, 12_101, 7], split: "test (history excluded)")
        let text = list.text()
        XCTAssertTrue(text.hasPrefix("#"))
        XCTAssertEqual(text.split(separator: "\n").count, 5)
        XCTAssertEqual(try RankList(text: text, path: "r.txt"), list)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ranks-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: url) }
        try list.write(to: url)
        XCTAssertEqual(try RankList(contentsOf: url), list)
    }

    func testBadLinesAreNamedByFileAndLine() {
        XCTAssertThrowsError(try RankList(text: "# header; test\n12\nx\n", path: "a/ranks.txt")) { error in
            XCTAssertEqual(error as? RankListError, .badLine("a/ranks.txt", 3, "x"))
            XCTAssertEqual("\(error)", "a/ranks.txt:3: expected a rank (a whole number ≥ 0), found \"x\"")
        }
        XCTAssertThrowsError(try RankList(text: "4\n-1\n", path: "b")) { error in
            XCTAssertEqual(error as? RankListError, .badLine("b", 2, "-1"))
        }
        XCTAssertThrowsError(try RankList(contentsOf: URL(fileURLWithPath: "/nonexistent/ranks.txt"))) { error in
            guard case .unreadable(let path, _)? = error as? RankListError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/nonexistent/ranks.txt")
        }
    }

    /// A = ranks 1, 3, miss, 12; B = 2, 3, 1, miss. Per-user values and differences worked out by hand.
    func testPairedDifferencesAndStandardErrorsByHand() throws {
        let comparison = PairedComparison([1, 3, 0, 12], [2, 3, 1, 0])
        func row(_ name: String) throws -> PairedComparison.Row { try XCTUnwrap(comparison.rows.first { $0.metric == name }) }
        XCTAssertEqual(comparison.users, 4)
        XCTAssertEqual(comparison.rows.map(\.metric), ["recall@1", "recall@5", "recall@10", "ndcg@1", "ndcg@5", "ndcg@10",
                                                       "mrr@1", "mrr@5", "mrr@10"])
        // recall@1: A 1,0,0,0; B 0,0,1,0; d 1,0,−1,0: mean 0, sample variance 2/3, SE √(2/3 / 4).
        let r1 = try row("recall@1")
        XCTAssertEqual(r1.a, 0.25); XCTAssertEqual(r1.b, 0.25); XCTAssertEqual(r1.difference, 0)
        XCTAssertEqual(r1.standardError, (2.0 / 3 / 4).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(r1.z, 0)
        // recall@5: A 1,1,0,0; B 1,1,1,0; d 0,0,−1,0: mean −1/4, variance (1 − 4/16)/3 = 1/4, SE 1/4, z −1.
        let r5 = try row("recall@5")
        XCTAssertEqual(r5.a, 0.5); XCTAssertEqual(r5.b, 0.75)
        XCTAssertEqual(r5.difference, -0.25, accuracy: 1e-12)
        XCTAssertEqual(r5.standardError, 0.25, accuracy: 1e-12)
        XCTAssertEqual(r5.z, -1, accuracy: 1e-12)
        // ndcg@5: A 1, 1/2, 0, 0; B 1/log2(3), 1/2, 1, 0; d = 1 − 1/log2(3), 0, −1, 0.
        let g = 1 / log2(3.0), d = [1 - g, 0, -1, 0]
        let mean = d.reduce(0, +) / 4
        let variance = d.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 3
        let n5 = try row("ndcg@5")
        XCTAssertEqual(n5.a, 1.5 / 4, accuracy: 1e-12)
        XCTAssertEqual(n5.b, (g + 1.5) / 4, accuracy: 1e-12)
        XCTAssertEqual(n5.difference, mean, accuracy: 1e-12)
        XCTAssertEqual(n5.standardError, (variance / 4).squareRoot(), accuracy: 1e-12)
        // recall@10 and mrr@10: rank 12 is beyond 10, so A's fourth user counts nothing.
        XCTAssertEqual(try row("recall@10").a, 0.5)
        XCTAssertEqual(try row("mrr@10").a, (1 + 1.0 / 3) / 4, accuracy: 1e-12)
        XCTAssertEqual(try row("mrr@10").b, (0.5 + 1.0 / 3 + 1) / 4, accuracy: 1e-12)
        let table = comparison.table(a: "runs/a", b: "runs/b")
        XCTAssertTrue(table.contains("A = runs/a") && table.contains("4 users, paired"))
        XCTAssertTrue(table.contains("recall@5     0.5000   0.7500   -0.2500   0.2500  -1.00  0.667"), table)
    }

    /// Keys 3, 5, 6, 30, 4 at bounds [5, 10]: users 0, 1, 4 (≤ 5), 2 (6–10), 3 (> 10); each group's figures are the
    /// group's own paired comparison.
    func testGroupsSplitUsersByKeyAndCompareEachOnItsOwn() {
        let a: [Int32] = [1, 3, 0, 12, 2], b: [Int32] = [2, 3, 1, 0, 0]
        let groups = PairedComparison.grouped(a, b, keys: [3, 5, 6, 30, 4], bounds: [5, 10])
        XCTAssertEqual(groups.map(\.label), ["≤ 5", "6–10", "> 10"])
        XCTAssertEqual(groups.map(\.comparison.users), [3, 1, 1])
        XCTAssertEqual(groups[0].comparison, PairedComparison([1, 3, 2], [2, 3, 0], cutoffs: [10]))
        // recall@10 of the first group: A 1, 1, 1; B 1, 1, 0.
        XCTAssertEqual(groups[0].comparison.rows.first { $0.metric == "recall@10" }?.difference ?? 0, 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(groups[2].comparison.rows.map(\.metric), ["recall@10", "ndcg@10", "mrr@10"])
        // Empty groups are left out; a bound of one value is labelled by it.
        XCTAssertEqual(PairedComparison.grouped([1, 2], [1, 2], keys: [1, 9], bounds: [1, 2, 4]).map(\.label), ["≤ 1", "> 4"])
        XCTAssertEqual(PairedComparison.grouped([1], [1], keys: [2], bounds: [1, 2]).map(\.label), ["2"])
    }

    func testIdenticalListsDifferByNothing() {
        let comparison = PairedComparison([1, 0, 4, 9], [1, 0, 4, 9])
        for row in comparison.rows {
            XCTAssertEqual(row.difference, 0)
            XCTAssertEqual(row.standardError, 0)
            XCTAssertEqual(row.z, 0)
        }
    }
}

import XCTest
@testable import Evaluation

final class RankingMetricsTests: XCTestCase {
    /// Ranks 1, 3, 7, a miss and 12 over five users; every value below is worked out by hand.
    private func fiveUsers() -> RankingMetrics {
        var metrics = RankingMetrics()
        for rank in [1, 3, 7, nil, 12] { metrics.add(rank: rank) }
        return metrics
    }

    func testHandComputedRecallNDCGAndMRR() {
        let m = fiveUsers()
        XCTAssertEqual(m.users, 5)
        XCTAssertEqual(m.recall(at: 1), 0.2, accuracy: 1e-12)
        XCTAssertEqual(m.recall(at: 5), 0.4, accuracy: 1e-12)
        XCTAssertEqual(m.recall(at: 10), 0.6, accuracy: 1e-12)
        // NDCG: rank 1 -> 1, rank 3 -> 1/log2(4) = 0.5, rank 7 -> 1/log2(8) = 1/3.
        XCTAssertEqual(m.ndcg(at: 1), 0.2, accuracy: 1e-12)
        XCTAssertEqual(m.ndcg(at: 5), 1.5 / 5, accuracy: 1e-12)
        XCTAssertEqual(m.ndcg(at: 10), (1.5 + 1.0 / 3) / 5, accuracy: 1e-12)
        // MRR: 1, 1/3, 1/7.
        XCTAssertEqual(m.mrr(at: 1), 0.2, accuracy: 1e-12)
        XCTAssertEqual(m.mrr(at: 5), (1 + 1.0 / 3) / 5, accuracy: 1e-12)
        XCTAssertEqual(m.mrr(at: 10), (1 + 1.0 / 3 + 1.0 / 7) / 5, accuracy: 1e-12)
    }

    func testRankExactlyAtCutoffCountsAndOneBeyondDoesNot() {
        var m = RankingMetrics(cutoffs: [5])
        m.add(rank: 5)
        m.add(rank: 6)
        XCTAssertEqual(m.recall(at: 5), 0.5)
        XCTAssertEqual(m.ndcg(at: 5), (1 / log2(6.0)) / 2, accuracy: 1e-12)
        XCTAssertEqual(m.mrr(at: 5), 0.1, accuracy: 1e-12)
    }

    func testMissingPredictionsCountAsUsersWithZeroScore() {
        var m = RankingMetrics()
        m.add(ranked: [4, 8, 15], target: 16)
        m.add(ranked: [Int](), target: 1)
        m.add(ranked: [23, 42], target: 42)
        XCTAssertEqual(m.users, 3)
        XCTAssertEqual(m.recall(at: 5), 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(m.ndcg(at: 5), (1 / log2(3.0)) / 3, accuracy: 1e-12)
        XCTAssertEqual(m.recall(at: 1), 0)
    }

    func testDuplicatePredictionsCountOnce() {
        XCTAssertEqual(Ranking.rank(of: 9, inRankedList: [5, 5, 3, 5, 9]), 3)
        XCTAssertNil(Ranking.rank(of: 7, inRankedList: [1, 2, 3]))
        var m = RankingMetrics(cutoffs: [2])
        m.add(ranked: ["a", "a", "a", "b"], target: "b")
        XCTAssertEqual(m.recall(at: 2), 1)
    }

    func testTiesArePessimisticByDefault() {
        let scores: [Float] = [0.5, 0.9, 0.5, 0.1, 0.5]
        XCTAssertEqual(Ranking.rank(ofItem: 0, scores: scores), 4)
        XCTAssertEqual(Ranking.rank(ofItem: 0, scores: scores, ties: .optimistic), 2)
        XCTAssertEqual(Ranking.rank(ofItem: 0, scores: scores, excluded: [2]), 3)
        // Excluding a better item, a tied item and the target itself (which never leaves the ranking).
        XCTAssertEqual(Ranking.rank(ofItem: 0, scores: scores, excluded: [0, 1, 2]), 2)
        XCTAssertEqual(Ranking.rank(ofItem: 3, scores: scores, excluded: [0, 1, 2, 4]), 1)
        XCTAssertEqual(Ranking.rank(ofItem: 1, scores: scores), 1)
        XCTAssertEqual(Ranking.rank(ofItem: 3, scores: scores), 5)
        // A model that scores everything equal must not look perfect.
        XCTAssertEqual(Ranking.rank(ofItem: 2, scores: [Float](repeating: 0, count: 100)), 100)
    }

    /// The eight-lane counting loop against the scalar reference: odd lengths, ties, NaN and infinities.
    func testVectorCountsMatchTheScalarReference() {
        var state: UInt64 = 7
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        for n in [0, 1, 7, 8, 9, 63, 1000, 12101] {
            let scores: [Float] = (0..<n).map { _ in
                switch next() % 20 {
                case 0: return .nan
                case 1: return .infinity
                case 2: return -.infinity
                default: return Float(next() % 50) / 10   // many exact ties
                }
            }
            for t: Float in [0, 2.5, 4.9, -1, 100] {
                scores.withUnsafeBufferPointer { buffer in
                    let fast = Ranking.countFinite(buffer, against: t), reference = Ranking.countAny(buffer, against: t)
                    XCTAssertEqual(fast.better, reference.better, "n \(n) t \(t)")
                    XCTAssertEqual(fast.tied, reference.tied, "n \(n) t \(t)")
                }
            }
        }
    }

    func testNaNScoresRankLowest() {
        XCTAssertEqual(Ranking.rank(ofItem: 0, scores: [.nan, 0.1, -3]), 3)
        XCTAssertEqual(Ranking.rank(ofItem: 1, scores: [.nan, 0.1, -3]), 1)
    }

    func testMergeEqualsSequentialAccumulation() {
        var left = RankingMetrics()
        var right = RankingMetrics()
        for rank in [1, 3] { left.add(rank: rank) }
        for rank in [7, nil, 12] { right.add(rank: rank) }
        left.merge(right)
        XCTAssertEqual(left.report(split: "test"), fiveUsers().report(split: "test"))
    }

    func testNoUsersGivesZerosNotNaN() {
        let report = RankingMetrics().report(split: "validation")
        XCTAssertEqual(report["recall@10"], 0)
        XCTAssertFalse(report.jsonString().contains("nan"))
    }

    func testCutoffsAreSortedAndDeduplicated() {
        XCTAssertEqual(RankingMetrics(cutoffs: [10, 1, 5, 10]).cutoffs, [1, 5, 10])
    }
}

final class MetricsReportTests: XCTestCase {

    func testTableAlignsOneRowPerSplit() {
        let validation = MetricsReport(values: [("recall@10", 0.12345), ("ndcg@10", 0.5)], users: 7, split: "validation")
        let test = MetricsReport(values: [("recall@10", 0.1), ("ndcg@10", 0.04567)], users: 12, split: "test")
        XCTAssertEqual(MetricsReport.table([validation, test]), """
            split       recall@10  ndcg@10  users
            validation     0.1235   0.5000      7
            test           0.1000   0.0457     12
            """)
        XCTAssertEqual(MetricsReport.table([]), "")
    }
    func testJSONHasTheExactKeysInOrder() throws {
        var m = RankingMetrics()
        for rank in [1, 3, 7, nil, 12] { m.add(rank: rank) }
        let json = m.report(split: "test").jsonString()
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        for key in ["recall@1", "recall@5", "recall@10", "ndcg@5", "ndcg@10", "mrr@5", "mrr@10", "users", "split"] {
            XCTAssertNotNil(object[key], "missing \(key) in \(json)")
        }
        XCTAssertEqual(object["users"] as? Int, 5)
        XCTAssertEqual(object["split"] as? String, "test")
        XCTAssertEqual((object["recall@10"] as? NSNumber)?.doubleValue ?? -1, 0.6, accuracy: 1e-12)
        XCTAssertTrue(json.hasPrefix("{\"recall@1\": 0.2, \"recall@5\": 0.4, \"recall@10\": 0.6, \"ndcg@1\": 0.2"), json)
        XCTAssertTrue(json.hasSuffix("\"users\": 5, \"split\": \"test\"}"), json)
    }

    func testReportRoundTripsThroughJSONAndFile() throws {
        var m = RankingMetrics(cutoffs: [1, 5, 10, 20])
        for rank in [2, 19, nil, 1] { m.add(rank: rank) }
        let report = m.report(split: "validation")
        XCTAssertEqual(try MetricsReport(json: report.jsonString()), report)

        let url = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID()).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try report.write(to: url)
        XCTAssertEqual(try MetricsReport(json: String(contentsOf: url, encoding: .utf8)), report)
    }

    func testParsingRejectsBadReports() {
        XCTAssertThrowsError(try MetricsReport(json: "[1]")) { XCTAssertEqual($0 as? MetricsReportError, .notAnObject) }
        XCTAssertThrowsError(try MetricsReport(json: #"{"split": "test"}"#)) {
            XCTAssertEqual($0 as? MetricsReportError, .missingField("users"))
        }
        XCTAssertThrowsError(try MetricsReport(json: #"{"users": 1, "split": "t", "recall@1": "x"}"#)) {
            XCTAssertEqual($0 as? MetricsReportError, .notANumber("recall@1"))
        }
        XCTAssertThrowsError(try MetricsReport(json: #"{"users": 1, "split": "t", "recall@1": null}"#)) {  // NaN as written
            XCTAssertEqual($0 as? MetricsReportError, .notANumber("recall@1"))
        }
        XCTAssertThrowsError(try MetricsReport(json: #"{"users": 1, "split": "t", "recall@1": 0.5,}"#)) {
            guard case .invalidJSON(43, _)? = $0 as? MetricsReportError else { return XCTFail("\($0)") }
        }
    }

    func testRepeatedKeyIsRefusedNotSilentlyOverwritten() {
        let twice = #"{"recall@1": 0.5, "users": 1, "split": "t", "recall@1": 0.9}"#
        XCTAssertThrowsError(try MetricsReport(json: twice)) {
            XCTAssertEqual($0 as? MetricsReportError, .invalidJSON(offset: 44, reason: "duplicate key 'recall@1'"))
        }
    }

    func testNonFiniteValuesAreWrittenAsNull() {
        let json = MetricsReport(values: [("recall@1", .nan), ("ndcg@1", .infinity)], users: 0, split: "t").jsonString()
        XCTAssertEqual(json, #"{"recall@1": null, "ndcg@1": null, "users": 0, "split": "t"}"#)
    }

    func testSplitNameIsEscaped() throws {
        let json = RankingMetrics().report(split: "a\"b\n").jsonString()
        XCTAssertEqual(try MetricsReport(json: json).split, "a\"b\n")
    }
}

@testable import Quantization
import Catalog
import TensorEngine
import TestSupport
import ItemCodes
import XCTest

final class CollisionAndStatisticsTests: XCTestCase {
    func testCollidingItemsAreNumberedInItemOrder() throws {
        // items 0, 2, 3 share [1, 1]; item 1 is alone; item 4 is absent.
        let result = try CollisionLevel.append(codes: [1, 1, 0, 5, 1, 1, 1, 1, 7, 7], levels: 2,
                                               present: [true, true, true, true, false], capacity: 4, modality: "text")
        XCTAssertEqual(result.codes, [1, 1, 0, 0, 5, 0, 1, 1, 1, 1, 1, 2, 0, 0, 0])
        XCTAssertEqual(result.maxGroup, 3)
        XCTAssertEqual(result.collidingItems, 3)
        XCTAssertEqual(result.distinctPrefixes, 2)
        XCTAssertEqual(result.largestGroupCodes, [1, 1])
    }

    func testAGroupLargerThanTheCollisionLevelIsRefusedWithAHint() {
        assertThrowsError(
            try CollisionLevel.append(codes: [3, 3, 3], levels: 1, present: [true, true, true], capacity: 2, modality: "image"),
            containing: "modality \"image\": 3 items share the codes [3], but the collision level holds only 2; raise --codebook or --levels")
    }

    func testEveryFullSequenceIsUniqueAfterTheCollisionLevel() throws {
        var rng = SeededGenerator(seed: 3)
        let n = 2_000
        let raw = (0..<n * 2).map { _ in Int32(rng.index(8)) }  // 64 prefixes for 2,000 items: many collisions
        let present = (0..<n).map { _ in rng.uniform() < 0.95 }
        let result = try CollisionLevel.append(codes: raw, levels: 2, present: present, capacity: 256, modality: "m")
        var sequences = Set<[Int32]>()
        for item in 0..<n where present[item] {
            let row = Array(result.codes[item * 3..<item * 3 + 3])
            XCTAssertEqual(Array(row[..<2]), Array(raw[item * 2..<item * 2 + 2]))
            XCTAssertTrue(sequences.insert(row).inserted)
        }
        XCTAssertNoThrow(try PrefixTree(codes: result.codes, depth: 3, codebookSizes: [8, 8, 256], present: present))
    }

    func testStatisticsOfAHandExample() {
        // Level 0 uses codes 0,0,1 of 4; level 1 (collision) 0,1,0 of 2; items 0 and 1 collide on level 0.
        let codes = ModalityCodes(modality: "text", levels: 2, codebookSizes: [4, 2], source: "test",
                                  codes: [0, 0, 0, 1, 1, 0, 0, 0], present: [true, true, true, false])
        let stats = CodeStatistics(codes: codes, hasCollisionLevel: true, reconstructionError: [0.25])
        XCTAssertEqual(stats.used, [2, 2])
        XCTAssertEqual(stats.utilization, [0.5, 1.0])
        let h = -(2.0 / 3 * log(2.0 / 3) + 1.0 / 3 * log(1.0 / 3))
        XCTAssertEqual(stats.perplexity[0], exp(h), accuracy: 1e-12)
        XCTAssertEqual(stats.perplexity[1], exp(h), accuracy: 1e-12)
        XCTAssertEqual(stats.collisionRate, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(stats.maxCollisionGroup, 2)
        XCTAssertEqual(stats.itemsWithCodes, 3)
        let json = stats.json()
        XCTAssertTrue(json.hasPrefix("{\"levels\": 2, \"quantized_levels\": 1, \"collision_level\": true, \"codebook_sizes\": [4, 2]"), json)
        XCTAssertTrue(json.contains("\"utilization\": [0.5, 1.0]"), json)
        XCTAssertTrue(json.contains("\"max_collision_group\": 2"), json)
        XCTAssertTrue(json.contains("\"reconstruction_error\": [0.25]"), json)
        // Without a collision level every level counts towards collisions: [0,0] and [0,1] differ.
        let raw = CodeStatistics(codes: codes, hasCollisionLevel: false)
        XCTAssertEqual(raw.collisionRate, 0)
        XCTAssertEqual(raw.maxCollisionGroup, 1)
        XCTAssertTrue(raw.json().contains("\"reconstruction_error\": null"))
    }

    func testCodesFileRoundTripsAndRefusesBadContents() throws {
        let codes = ModalityCodes(modality: "text", levels: 2, codebookSizes: [4, 3], source: "rq-kmeans \"q\"",
                                  codes: [3, 2, 0, 0, 1, 0], present: [true, false, true])
        let file = CodesFile(codes: codes, hasCollisionLevel: true)
        XCTAssertEqual(try CodesFile(serialized: file.serialized()), file)
        XCTAssertEqual(file.quantizedLevels, 1)
        let outOfRange = CodesFile(codes: ModalityCodes(modality: "text", levels: 2, codebookSizes: [4, 3], source: "",
                                                        codes: [3, 3, 0, 0, 1, 0], present: [true, false, true]), hasCollisionLevel: true)
        assertThrowsError(try CodesFile(serialized: outOfRange.serialized(), path: "t.codes"), containing: "t.codes: codes[0][1]: code 3 outside 0..<3")
        let absentNonZero = CodesFile(codes: ModalityCodes(modality: "text", levels: 2, codebookSizes: [4, 3], source: "",
                                                           codes: [3, 2, 1, 0, 1, 0], present: [true, false, true]), hasCollisionLevel: true)
        assertThrowsError(try CodesFile(serialized: absentNonZero.serialized(), path: "t.codes"), containing: "codes[1][0]: absent item")
        var truncated = file.serialized()
        truncated.removeLast(3)
        assertThrowsError(try CodesFile(serialized: truncated, path: "t.codes"), containing: "t.codes: checksum")
    }
}

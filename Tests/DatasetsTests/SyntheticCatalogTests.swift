import Catalog
import Foundation
import XCTest

@testable import Datasets

final class SyntheticCatalogTests: DatasetTestCase {
    private func make(items: Int, users: Int, seed: UInt64 = 7, interactions: Int? = nil) throws -> SyntheticCatalog {
        var options = SyntheticCatalog.Options(items: items, users: users, seed: seed)
        options.interactions = interactions
        return try SyntheticCatalog(options: options)
    }

    private func itemCounts(_ catalog: SyntheticCatalog) -> [Int] {
        var counts = [Int](repeating: 0, count: catalog.items.count)
        for item in catalog.sequenceItems { counts[Int(item)] += 1 }
        return counts
    }

    func testSameSeedSameDataDifferentSeedDifferentData() throws {
        let a = try make(items: 300, users: 100, seed: 1)
        let b = try make(items: 300, users: 100, seed: 1)
        let c = try make(items: 300, users: 100, seed: 2)
        XCTAssertEqual(a.sequenceItems, b.sequenceItems)
        XCTAssertEqual(a.title(ofItem: 17), b.title(ofItem: 17))
        XCTAssertNotEqual(a.sequenceItems, c.sequenceItems)
    }

    func testEveryItemAndUserReachesTheCore() throws {
        let catalog = try make(items: 300, users: 100)
        XCTAssertEqual(catalog.sequenceItems.count, 2_500, "default budget: 25 per user")
        XCTAssertGreaterThanOrEqual(itemCounts(catalog).min()!, 5)
        XCTAssertGreaterThanOrEqual(zip(catalog.offsets, catalog.offsets.dropFirst()).map { $1 - $0 }.min()!, 5)
        // The tightest budget gives every item exactly five interactions.
        let tight = try make(items: 1_000, users: 200, interactions: 5_000)
        XCTAssertEqual(Set(itemCounts(tight)), [5])
    }

    func testUsersFollowTheirTastes() throws {
        let catalog = try make(items: 2_000, users: 300)
        var same = 0
        var pairs = 0
        for user in 0..<300 {
            let sequence = catalog.sequenceItems[catalog.offsets[user]..<catalog.offsets[user + 1]]
            for (previous, next) in zip(sequence, sequence.dropFirst()) {
                pairs += 1
                if catalog.items[Int(previous)].category == catalog.items[Int(next)].category { same += 1 }
            }
        }
        // Twenty categories: unrelated consecutive items would share one about 5% of the time.
        XCTAssertGreaterThan(Double(same) / Double(pairs), 0.6)
    }

    func testTitlesNameTheAttributes() throws {
        let catalog = try make(items: 50, users: 20)
        let fields = Dictionary(uniqueKeysWithValues: catalog.fields(ofItem: 3))
        let title = try XCTUnwrap(fields["title"])
        XCTAssertTrue(title.contains(try XCTUnwrap(fields["colour"])), title)
        XCTAssertTrue(title.contains(try XCTUnwrap(fields["material"])), title)
        XCTAssertTrue(title.hasPrefix(try XCTUnwrap(fields["brand"])), title)
    }

    func testWrittenFilesPrepareWithoutLosingAnything() throws {
        let catalog = try make(items: 400, users: 120)
        try catalog.write(to: scratch.url.appendingPathComponent("synth"))
        XCTAssertEqual(scratch.contents(), ["synth"])
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: scratch.path("synth")).sorted(), ["Synth.inter.json", "Synth.item.json"])
        let (dataset, itemCatalog, _) = try prepare(.lcrec) { $0.input = scratch.path("synth") }
        XCTAssertEqual(dataset.userCount, 120)
        XCTAssertEqual(dataset.itemCount, 400)
        XCTAssertEqual(dataset.sequences.interactionCount, catalog.sequenceItems.count)
        XCTAssertEqual(Array(dataset.sequences.sequence(ofUser: 5)), Array(catalog.sequenceItems[catalog.offsets[5]..<catalog.offsets[6]]))
        XCTAssertEqual(try itemCatalog.item(externalID: "9")?.title, catalog.title(ofItem: 9))
        XCTAssertEqual(try itemCatalog.item(externalID: "9")?.attributes["colour"], SyntheticVocabulary.colours[catalog.items[9].colour])
    }

    func testImpossibleBudgetIsRejected() {
        assertDatasetError(["--interactions", "500"]) { _ = try make(items: 10, users: 100, interactions: 499) }
    }
}

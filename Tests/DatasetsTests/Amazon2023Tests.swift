import Catalog
import Foundation
import XCTest

@testable import Datasets

/// The fixture follows the published Amazon Reviews 2023 layout (reviews.jsonl plain, meta.jsonl.gz gzipped).
/// Items: P1 B00YQ6X8EO and P2 B081TJ8YS3 share a main image; P3 B07PNNCSP9 has no image; P4 B09JS339BZ has a
/// placeholder; P5 B08BZ63GMJ lists a PT01 image before its MAIN one; P6 B00R8DXL44 has no meta record;
/// B07SLFWZKN has meta but no reviews. User AHV6… has only two reviews.
final class Amazon2023Tests: DatasetTestCase {
    let p1 = "B00YQ6X8EO", p2 = "B081TJ8YS3", p3 = "B07PNNCSP9", p4 = "B09JS339BZ", p5 = "B08BZ63GMJ", p6 = "B00R8DXL44"
    let userA = "AGKHLEW2SOWHNMFQIJGBECAF7INQ", userB = "AFQLNQNQYFWQZPJQZS5V3NZU4QBQ", userC = "AE2XN7JY7ZNEL6SSPV2Z4IQJT3WA"

    private func prepareAmazon(dedup: Bool = false, requireImages: Bool = false) throws
        -> (dataset: PreparedDataset, catalog: ItemCatalog, result: PreparationResult)
    {
        try prepare(.amazon2023) {
            $0.reviews = Fixtures.path("amazon2023/reviews.jsonl")
            $0.meta = Fixtures.path("amazon2023/meta.jsonl.gz")
            $0.name = "Fixture"
            $0.preprocessing.minCount = 0
            $0.preprocessing.deduplicateImages = dedup
            $0.preprocessing.requireImages = requireImages
        }
    }

    func testParentASINsTimestampsAndMeta() throws {
        let (dataset, catalog, result) = try prepareAmazon()
        XCTAssertEqual(dataset.userCount, 3, "the two-review user cannot be split leave-one-out")
        XCTAssertEqual(dataset.sequences.userIDs, [userC, userB, userA])
        XCTAssertEqual(try catalog.externalIDs(), [p6, p1, p3, p2, p5, p4])
        XCTAssertEqual(dataset.sequences.interactionCount, 11)
        // Reviews are listed out of order; sequences follow the millisecond timestamps.
        XCTAssertEqual(try externalSequence(dataset, catalog, user: userA), [p1, p2, p5, p3])
        XCTAssertEqual(try externalSequence(dataset, catalog, user: userB), [p1, p4, p6, p5])
        XCTAssertEqual(try externalSequence(dataset, catalog, user: userC), [p2, p5, p1])
        let userAIndex = try XCTUnwrap(dataset.sequences.userIDs.firstIndex(of: userA))
        XCTAssertEqual(
            Array(dataset.sequences.timestamps![dataset.sequences.offsets[userAIndex]..<dataset.sequences.offsets[userAIndex + 1]]),
            [1_588_687_728_923, 1_588_687_729_923, 1_588_687_730_923, 1_588_687_731_923])

        let oil = try XCTUnwrap(catalog.item(externalID: p5))
        XCTAssertEqual(oil.title, "Tea Tree Hair Oil")
        XCTAssertEqual(oil.description, "Nourishing oil. For all hair types.")
        XCTAssertEqual(oil.brand, "GreenLeaf")
        XCTAssertEqual(oil.categories, "Beauty & Personal Care,Hair Care,Hair Oils")
        XCTAssertEqual(oil.image, "https://m.media-amazon.com/images/I/61main.jpg", "the MAIN variant's large image")
        XCTAssertEqual(oil.attributes["features"], "Tea tree; 100 ml")
        XCTAssertEqual(oil.attributes["main_category"], "Premium Beauty")
        XCTAssertEqual(try catalog.item(externalID: p3)?.brand, "SoapCo", "details.Brand fills a missing store")
        XCTAssertNil(try catalog.item(externalID: p3)?.image)
        XCTAssertEqual(try catalog.item(externalID: p6)?.title, "")
        XCTAssertNil(try catalog.item(externalID: "B07SLFWZKN"))
        XCTAssertTrue(result.notes.contains("1 reviewed items have no meta record"), "\(result.notes)")
        XCTAssertTrue(result.notes.contains("1 meta records have no reviews"), "\(result.notes)")
    }

    func testImageRemovalDropsEmptyPlaceholderAndMissingImages() throws {
        let (dataset, catalog, _) = try prepareAmazon(requireImages: true)
        XCTAssertEqual(try catalog.externalIDs(), [p1, p2, p5])
        XCTAssertEqual(dataset.userCount, 2)
        XCTAssertEqual(dataset.sequences.interactionCount, 6)
        XCTAssertEqual(dataset.info.preprocessing.itemsWithoutImage, 3)
        XCTAssertEqual(try externalSequence(dataset, catalog, user: userC), [p2, p5, p1])
    }

    func testDeduplicationMapsSameImageOntoTheSmallestID() throws {
        let (dataset, catalog, _) = try prepareAmazon(dedup: true)
        XCTAssertEqual(try catalog.externalIDs(), [p6, p1, p3, p5, p4])
        XCTAssertEqual(try externalSequence(dataset, catalog, user: userA), [p1, p1, p5, p3])
        XCTAssertEqual(try externalSequence(dataset, catalog, user: userC), [p1, p5, p1])
        XCTAssertEqual(try catalog.item(externalID: p1)?.attributes["merged_ids"], p2)
        XCTAssertEqual(dataset.info.preprocessing.itemsMergedByImage, 1)
    }

    func testBothImageStepsTogether() throws {
        let (dataset, catalog, _) = try prepareAmazon(dedup: true, requireImages: true)
        XCTAssertEqual(try catalog.externalIDs(), [p1, p5])
        XCTAssertEqual(dataset.sequences.userIDs, [userC, userA])
        XCTAssertEqual(dataset.sequences.interactionCount, 6)
    }

    // MARK: bad input

    private func run(reviews: String, meta: String? = nil) throws {
        var options = PreparationOptions(format: .amazon2023, output: scratch.path("work"))
        options.reviews = try scratch.write("reviews.jsonl", reviews)
        if let meta { options.meta = try scratch.write("meta.jsonl", meta) }
        options.preprocessing.minCount = 0
        _ = try DatasetPreparation.run(options) { _ in }
    }

    private let good = #"{"rating": 5.0, "parent_asin": "P", "user_id": "U", "timestamp": 1}"#

    func testMissingFieldNamesLineAndField() {
        assertDatasetError(["reviews.jsonl", "line 2", "missing field \"user_id\""]) {
            try run(reviews: good + "\n" + #"{"parent_asin": "P", "timestamp": 2}"# + "\n")
        }
        assertDatasetError(["reviews.jsonl", "line 1", "\"timestamp\""]) {
            try run(reviews: #"{"parent_asin": "P", "user_id": "U", "timestamp": "soon"}"#)
        }
    }

    func testMalformedLineNamesLine() {
        assertDatasetError(["reviews.jsonl", "line 3"]) { try run(reviews: good + "\n\n" + #"{"user_id": "U", "#) }
    }

    func testDuplicateMetaRecord() {
        let meta = #"{"title": "a", "parent_asin": "P"}"# + "\n" + #"{"title": "b", "parent_asin": "P"}"#
        assertDatasetError(["meta.jsonl", "line 2", "duplicate id \"P\""]) {
            try run(reviews: [good, good, good].joined(separator: "\n"), meta: meta)
        }
    }

    func testReviewsOnlyWithoutMetaStillPrepare() throws {
        try run(reviews: (1...3).map { #"{"parent_asin": "P\#($0)", "user_id": "U", "timestamp": \#($0)}"# }.joined(separator: "\n"))
        let dataset = try WorkDirectory.load(URL(fileURLWithPath: scratch.path("work")))
        XCTAssertEqual(dataset.itemCount, 3)
    }
}

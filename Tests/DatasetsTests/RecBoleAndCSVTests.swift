import Catalog
import Foundation
import XCTest

@testable import Datasets

final class RecBoleTests: DatasetTestCase {
    func testAtomicFilesWithTimestampTies() throws {
        let (dataset, catalog, _) = try prepare(.recbole) {
            $0.input = Fixtures.path("recbole")
            $0.name = "mini"
            $0.preprocessing.minCount = 0
        }
        XCTAssertEqual(dataset.sequences.userIDs, ["10", "20", "30"])
        XCTAssertEqual(try catalog.externalIDs(), ["101", "102", "103", "104", "105"])
        XCTAssertEqual(dataset.sequences.interactionCount, 12)
        // 103 and 104 share timestamp 200: file order breaks the tie.
        XCTAssertEqual(try externalSequence(dataset, catalog, user: "10"), ["102", "103", "104", "101"])
        XCTAssertEqual(try externalSequence(dataset, catalog, user: "30"), ["102", "101", "104", "105"])
        let toyStory = try XCTUnwrap(catalog.item(externalID: "101"))
        XCTAssertEqual(toyStory.title, "Toy Story")
        XCTAssertEqual(toyStory.categories, "Animation Comedy")
        XCTAssertEqual(toyStory.attributes["release_year"], "1995")
        XCTAssertEqual(dataset.testExample(ofUser: 0).target, 0)
        XCTAssertEqual(dataset.validationExample(ofUser: 0).target, 3)
    }

    func testItemJSONAndLocalImageFiles() throws {
        let (dataset, catalog, _) = try prepare(.recbole) {
            $0.input = Fixtures.path("recbole")
            $0.name = "mini"
            $0.itemsFile = Fixtures.path("recbole/mini-items.json")
            $0.preprocessing.minCount = 0
            $0.preprocessing.requireImages = true
        }
        // 103 has no image and posters/missing.jpg (104) does not exist; user 10 is left with two items.
        XCTAssertEqual(try catalog.externalIDs(), ["101", "102", "105"])
        XCTAssertEqual(dataset.sequences.userIDs, ["20", "30"])
        XCTAssertEqual(dataset.info.preprocessing.itemsWithoutImage, 2)
        XCTAssertEqual(try catalog.item(externalID: "102")?.image, "posters/102.jpg")
        XCTAssertEqual(try catalog.item(externalID: "102")?.categories, "Action")
        let root = try XCTUnwrap(catalog.meta("image_root"))
        XCTAssertTrue(root.hasPrefix("/"), root)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/posters/102.jpg"))
    }

    func testHeaderAndColumnErrors() throws {
        try scratch.write("r/x.inter", "user:token\titem_id:token\n1\t2\n")
        var options = PreparationOptions(format: .recbole, output: scratch.path("work"))
        options.input = scratch.path("r")
        assertDatasetError(["x.inter", "line 1", "user_id"]) { _ = try DatasetPreparation.run(options) { _ in } }
        try scratch.write("r/x.inter", "user_id:token\titem_id:token\ttimestamp:float\n1\t2\t3\n1\t2\n")
        assertDatasetError(["x.inter", "line 3", "2 columns, header has 3"]) { _ = try DatasetPreparation.run(options) { _ in } }
        try scratch.write("r/x.inter", "user_id:token\titem_id:token\ttimestamp:float\n1\t2\tnoon\n")
        assertDatasetError(["x.inter", "line 2", "timestamp"]) { _ = try DatasetPreparation.run(options) { _ in } }
    }
}

final class CSVTests: DatasetTestCase {
    /// Users a, b, c, d; with min-count 2 (users need 3), c and d collapse over three passes, leaving a and b.
    func testIterativeKCoreCascade() throws {
        let (dataset, catalog, _) = try prepare(.csv) {
            $0.input = Fixtures.path("csv/cascade.csv")
            $0.preprocessing.minCount = 2
        }
        XCTAssertEqual(dataset.info.name, "cascade")
        XCTAssertEqual(dataset.sequences.userIDs, ["a", "b"])
        XCTAssertEqual(try catalog.externalIDs(), ["1", "2", "3"])
        XCTAssertEqual(Array(dataset.sequences.sequence(ofUser: 0)), [0, 1, 2])
        XCTAssertEqual(Array(dataset.sequences.sequence(ofUser: 1)), [0, 1, 2])
        XCTAssertEqual(dataset.info.preprocessing.kCoreRounds, 3)
        XCTAssertEqual(dataset.info.preprocessing.rawInteractions, 12)
        XCTAssertEqual(dataset.info.preprocessing.rawUsers, 4)
    }

    func testHeaderlessTSVKeepsFileOrder() throws {
        let (dataset, catalog, _) = try prepare(.csv) {
            $0.input = Fixtures.path("csv/order.tsv")
            $0.preprocessing.minCount = 0
        }
        XCTAssertNil(dataset.sequences.timestamps)
        XCTAssertEqual(try catalog.externalIDs(), ["x", "y", "z"])
        XCTAssertEqual(Array(dataset.sequences.sequence(ofUser: 0)), [0, 1, 2])
        XCTAssertEqual(Array(dataset.sequences.sequence(ofUser: 1)), [2, 1, 0])
    }

    func testBadLinesAreNamed() throws {
        var options = PreparationOptions(format: .csv, output: scratch.path("work"))
        options.input = try scratch.write("bad.csv", "user,item,timestamp\nu,i,1\nu,i,yesterday\n")
        assertDatasetError(["bad.csv", "line 3", "timestamp", "yesterday"]) { _ = try DatasetPreparation.run(options) { _ in } }
        options.input = try scratch.write("short.csv", "user,item,timestamp\nu,i,1\nu\n")
        assertDatasetError(["short.csv", "line 3", "columns"]) { _ = try DatasetPreparation.run(options) { _ in } }
        options.input = try scratch.write("quote.csv", "u,\"i,1\n")
        assertDatasetError(["quote.csv", "line 1", "unterminated"]) { _ = try DatasetPreparation.run(options) { _ in } }
        options.input = try scratch.write("noitem.csv", "user,rating\nu,1\n")
        assertDatasetError(["noitem.csv", "line 1", "item"]) { _ = try DatasetPreparation.run(options) { _ in } }
        options.input = try scratch.write("empty.csv", "user,item\n")
        assertDatasetError(["no interactions"]) { _ = try DatasetPreparation.run(options) { _ in } }
        XCTAssertFalse(scratch.contents().contains("work"), "no work directory after failures")
    }
}

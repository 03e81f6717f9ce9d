import Catalog
import Foundation
import XCTest

@testable import Datasets

final class LCRecTests: DatasetTestCase {
    private func prepareTiny(minCount: Int = 0, maxHistory: Int = 3, mode: TargetMode = .all) throws
        -> (dataset: PreparedDataset, catalog: ItemCatalog, result: PreparationResult)
    {
        try prepare(.lcrec) {
            $0.input = Fixtures.path("lcrec")
            $0.name = "Tiny"
            $0.preprocessing.minCount = minCount
            $0.maxHistory = maxHistory
            $0.targetMode = mode
        }
    }

    func testCountsIdsAndMetadata() throws {
        let (dataset, catalog, result) = try prepareTiny()
        XCTAssertEqual(dataset.userCount, 4)
        XCTAssertEqual(dataset.itemCount, 6)
        XCTAssertEqual(dataset.sequences.interactionCount, 18)
        XCTAssertNil(dataset.sequences.timestamps, "the LC-Rec layout has order, not timestamps")
        // External ids are the item file's keys, in numeric order, so internal index == LC-Rec index here.
        XCTAssertEqual(try catalog.externalIDs(), ["0", "1", "2", "3", "4", "5"])
        XCTAssertEqual(dataset.sequences.userIDs, ["0", "1", "2", "3"])
        XCTAssertEqual(Array(dataset.sequences.sequence(ofUser: 2)), [4, 3, 2, 1, 0, 5])

        let lipstick = try XCTUnwrap(catalog.item(externalID: "1"))
        XCTAssertEqual(lipstick.title, "Matte Lipstick \"Ruby\"")
        XCTAssertEqual(lipstick.categories, "Beauty,Lips")
        XCTAssertEqual(lipstick.attributes["asin"], "B000000001")
        XCTAssertEqual(try catalog.item(externalID: "2")?.image, "https://example.com/i/2.jpg")
        XCTAssertEqual(try catalog.item(externalID: "3")?.description, "Line 1. Line 2.")
        XCTAssertEqual(try catalog.item(externalID: "3")?.title, "Eyelineré")
        XCTAssertEqual(try catalog.item(externalID: "5")?.title, "")
        XCTAssertNil(try catalog.item(externalID: "6"), "an item nobody interacted with is not in the catalog")
        XCTAssertTrue(result.notes.contains { $0.contains("1 items of") && $0.contains("no interactions") }, "\(result.notes)")
        XCTAssertEqual(try catalog.meta("dataset"), "Tiny")
        XCTAssertEqual(try catalog.meta("source_format"), "lcrec")
    }

    func testPrecomputedCodesAreImportedForKeptItemsOnly() throws {
        let (_, catalog, _) = try prepareTiny(minCount: 2)
        let codes = try XCTUnwrap(catalog.codes(modality: "lemb"))
        XCTAssertEqual(codes.levels, 3)
        XCTAssertEqual(codes.itemCount, 5)
        XCTAssertEqual(codes.codes(ofItem: 3), [7, 5, 9])
        XCTAssertEqual(codes.codes(ofItem: 4), [1, 2, 3])
        // Sizes come from kept items: item 6 (<a_9>) and item 5 (filtered out) do not count.
        XCTAssertEqual(codes.codebookSizes, [8, 6, 10])
        XCTAssertEqual(codes.source, "precomputed:Tiny.index_lemb.json")
    }

    func testKCoreRemovesRareItems() throws {
        let (dataset, catalog, _) = try prepareTiny(minCount: 2)
        XCTAssertEqual(dataset.itemCount, 5)
        XCTAssertEqual(dataset.sequences.interactionCount, 17)
        XCTAssertEqual(try catalog.externalIDs(), ["0", "1", "2", "3", "4"])
        XCTAssertEqual(Array(dataset.sequences.sequence(ofUser: 2)), [4, 3, 2, 1, 0])
        XCTAssertEqual(dataset.info.preprocessing.rawItems, 6)
        XCTAssertEqual(dataset.info.preprocessing.rawInteractions, 18)
    }

    func testLeaveOneOutSplitWithMaxHistory() throws {
        let (dataset, _, _) = try prepareTiny(maxHistory: 3)
        let test = dataset.testExample(ofUser: 2)
        XCTAssertEqual(Array(test.history), [2, 1, 0])
        XCTAssertEqual(test.target, 5)
        let validation = dataset.validationExample(ofUser: 2)
        XCTAssertEqual(Array(validation.history), [3, 2, 1])
        XCTAssertEqual(validation.target, 0)
        XCTAssertEqual(Array(dataset.trainingSequence(ofUser: 2)), [4, 3, 2, 1])
        XCTAssertEqual(Array(dataset.trainingSequence(ofUser: 3)), [2])

        var examples: [([Int32], Int32)] = []
        dataset.forEachTrainingExample { if $0.user == 2 { examples.append((Array($0.history), $0.target)) } }
        XCTAssertEqual(examples.map(\.0), [[4], [4, 3], [4, 3, 2]])
        XCTAssertEqual(examples.map(\.1), [3, 2, 1])
        XCTAssertEqual(dataset.trainingExampleCount(), 6)

        var last: [([Int32], Int32)] = []
        dataset.forEachTrainingExample(mode: .last) { last.append((Array($0.history), $0.target)) }
        XCTAssertEqual(last.map(\.1), [2, 2, 1])
        XCTAssertEqual(last[2].0, [4, 3, 2])
        XCTAssertEqual(dataset.trainingExampleCount(mode: .last), 3)
    }

    func testShortMaxHistoryTruncatesFromTheOldEnd() throws {
        let (dataset, _, _) = try prepareTiny(maxHistory: 2, mode: .last)
        XCTAssertEqual(dataset.info.targetMode, .last)
        XCTAssertEqual(dataset.trainingExampleCount(), 3)
        var histories: [[Int32]] = []
        dataset.forEachTrainingExample { histories.append(Array($0.history)) }
        XCTAssertEqual(histories, [[0, 1], [1], [3, 2]])
        XCTAssertEqual(Array(dataset.testExample(ofUser: 0).history), [2, 3])
    }

    func testFilteringEverythingAwayIsAnError() {
        assertDatasetError(["no data left", "4-core"]) { _ = try prepareTiny(minCount: 4) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.path("work")))
    }

    // MARK: bad input

    private func prepareWritten(_ files: [String: String], name: String = "Bad") throws {
        let directory = scratch.url.appendingPathComponent("in").path
        for (file, text) in files { try scratch.write("in/\(file)", text) }
        var options = PreparationOptions(format: .lcrec, output: scratch.path("work"))
        options.input = directory
        options.name = name
        options.preprocessing.minCount = 0
        _ = try DatasetPreparation.run(options) { _ in }
    }

    func testMalformedJSONNamesFileAndLine() {
        assertDatasetError(["Bad.inter.json", "line 3"]) {
            try prepareWritten(["Bad.inter.json": "{\"0\": [1, 2, 3],\n \"1\": [1, 2,\n}"])
        }
    }

    func testDuplicateUserKey() {
        assertDatasetError(["Bad.inter.json", "key \"0\"", "duplicate id \"0\""]) {
            try prepareWritten(["Bad.inter.json": #"{"0": [1, 2, 3], "0": [4, 5, 6]}"#])
        }
    }

    func testNonIntegerItem() {
        assertDatasetError(["Bad.inter.json", "key \"7\"", "expected an integer"]) {
            try prepareWritten(["Bad.inter.json": #"{"7": [1, 2.5, 3]}"#])
        }
    }

    func testStringItemKeysAreExternalIDsAsWritten() throws {
        try prepareWritten([
            "Bad.inter.json": #"{"u1": ["B00X", "7", 7], "u2": ["7", "B00X", "B00Y"]}"#,
            "Bad.item.json": #"{"B00X": {"title": "x"}, "7": {"title": "seven"}, "B00Y": {"title": "y"}}"#,
        ])
        let work = URL(fileURLWithPath: scratch.path("work"))
        let catalog = try ItemCatalog.open(at: WorkDirectory.catalogURL(work))
        XCTAssertEqual(try catalog.externalIDs(), ["7", "B00X", "B00Y"])
        XCTAssertEqual(Array(try WorkDirectory.load(work).sequences.sequence(ofUser: 0)), [1, 0, 0])
    }

    func testItemMissingFromItemFile() {
        assertDatasetError(["Bad.item.json", "item 3", "missing field"]) {
            try prepareWritten([
                "Bad.inter.json": #"{"0": [1, 2, 3]}"#,
                "Bad.item.json": #"{"1": {"title": "a"}, "2": {"title": "b"}}"#,
            ])
        }
    }

    func testDuplicateItemKeyAndBadFields() {
        assertDatasetError(["Bad.item.json", "duplicate id \"1\""]) {
            try prepareWritten([
                "Bad.inter.json": #"{"0": [1, 1, 1]}"#, "Bad.item.json": #"{"1": {"title": "a"}, "1": {"title": "b"}}"#,
            ])
        }
        assertDatasetError(["Bad.item.json", "key \"1\"", "expected an object"]) {
            try prepareWritten(["Bad.inter.json": #"{"0": [1, 1, 1]}"#, "Bad.item.json": #"{"1": "title"}"#])
        }
    }

    func testBadCodeToken() {
        assertDatasetError(["Bad.index_x.json", "key \"1\"", "<a_x>"]) {
            try prepareWritten(["Bad.inter.json": #"{"0": [1, 1, 1]}"#, "Bad.index_x.json": #"{"1": ["<a_x>"]}"#])
        }
    }

    func testMissingInteractionFileAndAmbiguousName() throws {
        assertDatasetError(["Nothing.inter.json", "no such file"]) {
            try prepareWritten(["Other.inter.json": #"{"0": [1, 2, 3]}"#], name: "Nothing")
        }
        try scratch.write("two/A.inter.json", "{}")
        try scratch.write("two/B.inter.json", "{}")
        var options = PreparationOptions(format: .lcrec, output: scratch.path("work"))
        options.input = scratch.path("two")
        assertDatasetError(["several datasets", "A, B", "--name"]) { _ = try DatasetPreparation.run(options) { _ in } }
    }

    func testCodeSetNames() {
        XCTAssertEqual(LCRecReader.codeSetName(file: "/x/Instruments.index_lemb.json", name: "Instruments"), "lemb")
        XCTAssertEqual(LCRecReader.codeSetName(file: "Beauty.index.json.gz", name: "Beauty"), "index")
        XCTAssertEqual(LCRecReader.parseCodeToken("<d_151>"), 151)
        XCTAssertNil(LCRecReader.parseCodeToken("d_151"))
    }
}

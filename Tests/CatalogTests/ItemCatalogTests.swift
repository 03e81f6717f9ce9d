import Catalog
import Foundation
import XCTest

final class ItemCatalogTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-tests-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private var url: URL { directory.appendingPathComponent(ItemCatalog.fileName) }

    private let sample = [
        CatalogItem(index: 0, externalID: "B004756YJA", title: "OPI Nail Lacquer", brand: "OPI", categories: "Beauty,Nails",
                    image: "https://example.com/a.jpg", attributes: ["asin": "B004756YJA", "note": "say \"hi\"\n\t\\ \u{1}é"]),
        CatalogItem(index: 1, externalID: "7806397051", title: "Palette « 15 couleurs »", description: "multi\nline"),
        CatalogItem(index: 2, externalID: "42", image: "posters/42.jpg"),
    ]

    private func makeCatalog() throws -> ItemCatalog {
        let catalog = try ItemCatalog.create(at: url, meta: ["dataset": "Tiny", "image_root": "/data"])
        try catalog.appendItems(sample)
        return catalog
    }

    func testItemsRoundTripByIndexAndExternalID() throws {
        _ = try makeCatalog()
        let catalog = try ItemCatalog.open(at: url)
        XCTAssertEqual(try catalog.itemCount, 3)
        XCTAssertEqual(try catalog.item(index: 1), sample[1])
        XCTAssertEqual(try catalog.item(externalID: "B004756YJA"), sample[0])
        XCTAssertEqual(try catalog.item(externalID: "42")?.image, "posters/42.jpg")
        XCTAssertNil(try catalog.item(externalID: "nope"))
        XCTAssertNil(try catalog.item(index: 3))
        XCTAssertEqual(try catalog.indices(ofExternalIDs: ["42", "x", "B004756YJA"]), [2, nil, 0])
        XCTAssertEqual(try catalog.externalIDs(), ["B004756YJA", "7806397051", "42"])
        var seen: [CatalogItem] = []
        try catalog.forEachItem { seen.append($0) }
        XCTAssertEqual(seen, sample)
    }

    func testMetaCarriesSchemaVersionAndCallerValues() throws {
        let catalog = try makeCatalog()
        XCTAssertEqual(try catalog.meta("schema_version"), "1")
        XCTAssertEqual(try catalog.meta("dataset"), "Tiny")
        try catalog.setMeta("dataset", "Renamed")
        XCTAssertEqual(try catalog.allMeta()["dataset"], "Renamed")
        XCTAssertNil(try catalog.meta("missing"))
    }

    func testDuplicateExternalIDRollsBackTheWholeBatch() throws {
        let catalog = try makeCatalog()
        let batch = [CatalogItem(index: 3, externalID: "new"), CatalogItem(index: 4, externalID: "42")]
        XCTAssertThrowsError(try catalog.appendItems(batch)) {
            XCTAssertEqual($0 as? CatalogError, .duplicateExternalID("42"))
        }
        XCTAssertEqual(try catalog.itemCount, 3)
        XCTAssertNil(try catalog.item(externalID: "new"))
    }

    func testIndicesMustBeDense() throws {
        let catalog = try makeCatalog()
        XCTAssertThrowsError(try catalog.appendItems([CatalogItem(index: 5, externalID: "gap")])) {
            XCTAssertEqual($0 as? CatalogError, .nonDenseIndex(expected: 3, found: 5))
        }
    }

    func testReadOnlyCatalogRefusesWrites() throws {
        _ = try makeCatalog()
        let catalog = try ItemCatalog.open(at: url, readOnly: true)
        XCTAssertThrowsError(try catalog.setMeta("a", "b")) { XCTAssertEqual($0 as? CatalogError, .readOnly(path: url.path)) }
        XCTAssertThrowsError(try catalog.appendItems([CatalogItem(index: 3, externalID: "z")]))
    }

    func testCreateRefusesToOverwrite() throws {
        _ = try makeCatalog()
        XCTAssertThrowsError(try ItemCatalog.create(at: url)) {
            XCTAssertEqual($0 as? CatalogError, .alreadyExists(path: url.path))
        }
    }

    func testOpeningSomethingElseGivesClearErrors() throws {
        let junk = directory.appendingPathComponent("junk.sqlite")
        try Data("definitely not sqlite, but long enough to have a header ......................................".utf8)
            .write(to: junk)
        XCTAssertThrowsError(try ItemCatalog.open(at: junk)) {
            XCTAssertEqual($0 as? CatalogError, .notACatalog(path: junk.path))
        }
        XCTAssertThrowsError(try ItemCatalog.open(at: directory.appendingPathComponent("missing.sqlite"))) {
            XCTAssertTrue(String(describing: $0).contains("missing.sqlite"), "\($0)")
        }
        let future = try makeCatalog()
        try future.setMeta("schema_version", "99")
        XCTAssertThrowsError(try ItemCatalog.open(at: url)) {
            XCTAssertEqual($0 as? CatalogError, .unsupportedSchema(path: url.path, found: 99, supported: 1))
        }
    }

    func testCodesRoundTripWithAbsentItems() throws {
        _ = try makeCatalog()
        let writer = try ItemCatalog.open(at: url, readOnly: false)
        let image = ModalityCodes(
            modality: "image", levels: 4, codebookSizes: [256, 256, 256, 3], source: "rq-dino test",
            codes: [1, 2, 3, 0, 0, 0, 0, 0, 255, 7, 9, 2], present: [true, false, true])
        try writer.write(codes: image)
        let text = ModalityCodes(
            modality: "text", levels: 2, codebookSizes: [70000, 1], source: "t", codes: [69999, 0, 5, 0, 6, 0],
            present: [true, true, true])
        try writer.write(codes: text)

        let reader = try ItemCatalog.open(at: url)
        XCTAssertEqual(try reader.codes(modality: "image"), image)
        XCTAssertEqual(try reader.codes(modality: "text"), text)
        XCTAssertEqual(try reader.codes(modality: "image", item: 2), [255, 7, 9, 2])
        XCTAssertNil(try reader.codes(modality: "image", item: 1))
        XCTAssertNil(try reader.codes(modality: "collaborative"))
        XCTAssertEqual(
            try reader.modalities(),
            [
                ModalityInfo(modality: "image", levels: 4, codebookSizes: [256, 256, 256, 3], source: "rq-dino test",
                             itemsWithCodes: 2),
                ModalityInfo(modality: "text", levels: 2, codebookSizes: [70000, 1], source: "t", itemsWithCodes: 3),
            ])
        XCTAssertEqual(image.codes(ofItem: 2), [255, 7, 9, 2])
        XCTAssertNil(image.codes(ofItem: 1))
    }

    func testRewritingAModalityReplacesItsCodes() throws {
        let catalog = try makeCatalog()
        try catalog.write(codes: ModalityCodes(
            modality: "text", levels: 1, codebookSizes: [4], source: "first", codes: [1, 2, 3], present: [true, true, true]))
        let second = ModalityCodes(
            modality: "text", levels: 2, codebookSizes: [4, 2], source: "second", codes: [3, 1, 0, 0, 0, 0],
            present: [true, false, false])
        try catalog.write(codes: second)
        XCTAssertEqual(try catalog.codes(modality: "text"), second)
    }

    func testInvalidCodesAreRejectedWithReasons() throws {
        let catalog = try makeCatalog()
        func attempt(_ codes: ModalityCodes, mentions fragment: String) {
            XCTAssertThrowsError(try catalog.write(codes: codes)) {
                XCTAssertTrue(String(describing: $0).contains(fragment), "\($0)")
            }
        }
        attempt(ModalityCodes(modality: "m", levels: 1, codebookSizes: [4], source: "", codes: [1, 2], present: [true, true]),
                mentions: "presence for 2 items")
        attempt(ModalityCodes(modality: "m", levels: 1, codebookSizes: [4], source: "", codes: [1, 2, 4], present: [true, true, true]),
                mentions: "item 2 level 0 code 4 outside 0..<4")
        attempt(ModalityCodes(modality: "m", levels: 2, codebookSizes: [4], source: "", codes: [], present: [true, true, true]),
                mentions: "levels 2 with 1 codebook sizes")
        XCTAssertEqual(try catalog.modalities(), [])
    }

    func testConcurrentReadersShareOneCatalog() throws {
        _ = try makeCatalog()
        let catalog = try ItemCatalog.open(at: url)
        let failures = Counter()
        let ids = sample.map(\.externalID)
        DispatchQueue.concurrentPerform(iterations: 200) { round in
            let id = ids[round % ids.count]
            if (try? catalog.item(externalID: id))?.externalID != id { failures.increment() }
        }
        XCTAssertEqual(failures.value, 0)
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

/// Issue 11: a damaged or hand-edited catalog gives CatalogError, never an overflow trap or a giant allocation.
final class DamagedCatalogTests: XCTestCase {
    func testAbsurdLevelCountIsAnError() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-damaged-\(UUID()).sqlite")
        defer { try? FileManager.default.removeItem(at: url) }
        let catalog = try ItemCatalog.create(at: url)
        try catalog.appendItems([CatalogItem(index: 0, externalID: "a"), CatalogItem(index: 1, externalID: "b")])
        try catalog.write(codes: ModalityCodes(modality: "text", levels: 2, codebookSizes: [4, 4], source: "t",
                                                codes: [1, 2, 3, 0], present: [true, true]))
        let db = try SQLiteConnection(path: url.path, mode: .readWrite)
        try db.execute("UPDATE modalities SET levels = 4611686018427387904 WHERE name = 'text'")
        let reader = try ItemCatalog.open(at: url)
        XCTAssertThrowsError(try reader.codes(modality: "text")) { error in
            XCTAssertEqual("\(error)".contains("4611686018427387904 levels with 2 codebook sizes"), true, "\(error)")
        }
        XCTAssertThrowsError(try reader.codes(modality: "text", item: 0)) { error in
            XCTAssertEqual("\(error)".contains("for 4611686018427387904 levels"), true, "\(error)")
        }
    }
}

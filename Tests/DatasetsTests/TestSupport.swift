import Catalog
import Foundation
import XCTest

@testable import Datasets

/// Fixture paths and scratch directories shared by the dataset tests.
enum Fixtures {
    static var root: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)! }
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

/// A fresh directory under the system temp dir, removed by `tearDown` of the test case that made it.
final class ScratchDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("datasets-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let target = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: target)
        return target.path
    }

    func remove() { try? FileManager.default.removeItem(at: url) }

    /// Names in the directory, hidden ones included (to catch leftover temporary files).
    func contents() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted() }
}

class DatasetTestCase: XCTestCase {
    var scratch: ScratchDirectory!

    override func setUpWithError() throws { scratch = try ScratchDirectory() }
    override func tearDown() { scratch?.remove() }

    /// Runs the whole preparation and loads back what it wrote.
    func prepare(_ format: PreparationOptions.Format, configure: (inout PreparationOptions) -> Void) throws
        -> (dataset: PreparedDataset, catalog: ItemCatalog, result: PreparationResult)
    {
        var options = PreparationOptions(format: format, output: scratch.path("work"))
        configure(&options)
        let result = try DatasetPreparation.run(options) { _ in }
        let dataset = try WorkDirectory.load(result.workDirectory)
        let catalog = try ItemCatalog.open(at: WorkDirectory.catalogURL(result.workDirectory))
        return (dataset, catalog, result)
    }

    /// User u's sequence as external item ids.
    func externalSequence(_ dataset: PreparedDataset, _ catalog: ItemCatalog, user: String) throws -> [String] {
        let ids = try catalog.externalIDs()
        guard let index = dataset.sequences.userIDs.firstIndex(of: user) else {
            XCTFail("no user \(user)")
            return []
        }
        return dataset.sequences.sequence(ofUser: index).map { ids[Int($0)] }
    }

    /// Asserts that `body` throws a DatasetError whose description contains every fragment.
    func assertDatasetError(
        _ fragments: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
    ) {
        do {
            try body()
            XCTFail("expected an error mentioning \(fragments)", file: file, line: line)
        } catch let error as DatasetError {
            for fragment in fragments {
                XCTAssertTrue(error.description.contains(fragment), "\"\(error)\" lacks \"\(fragment)\"", file: file, line: line)
            }
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: line)
        }
    }
}

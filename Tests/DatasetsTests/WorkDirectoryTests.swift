import BinaryFiles
import Catalog
import Foundation
import XCTest

@testable import Datasets

final class PreparedFileTests: DatasetTestCase {
    private func sample(timestamps: Bool) -> PreparedDataset {
        let sequences = PreparedSequences(
            itemCount: 4, userIDs: ["ü", "b", ""], offsets: [0, 3, 7, 10], items: [0, 1, 2, 3, 2, 1, 0, 1, 1, 3],
            timestamps: timestamps ? (0..<10).map { 1.5e12 + Double($0) } : nil)
        var report = PreprocessingReport()
        report.rawUsers = 5
        let info = PreparedInfo(
            name: "S", sourceFormat: "csv", maxHistory: 20, targetMode: .last, minCount: 5, users: 3, items: 4,
            interactions: 10, hasTimestamps: timestamps, preprocessing: report, createdBy: "test")
        return PreparedDataset(info: info, sequences: sequences)
    }

    func testRoundTripWithAndWithoutTimestamps() throws {
        for timestamps in [true, false] {
            let dataset = sample(timestamps: timestamps)
            XCTAssertEqual(try PreparedFile.decode(PreparedFile.encode(dataset), path: "x"), dataset)
        }
    }

    func testCorruptionTruncationAndVersionsAreRejected() throws {
        let bytes = try PreparedFile.encode(sample(timestamps: true))
        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x40
        assertDatasetError(["x.bin", "checksum"]) { _ = try PreparedFile.decode(flipped, path: "x.bin") }
        assertDatasetError(["checksum"]) { _ = try PreparedFile.decode(Array(bytes.dropLast(9)), path: "x.bin") }
        assertDatasetError(["not a prepared dataset"]) { _ = try PreparedFile.decode(Array("hello".utf8), path: "x.bin") }
        // A future version with a valid checksum must still be refused by version.
        var future = Array(bytes.dropLast(checksumByteCount))
        future[8] = 3
        assertDatasetError(["x.bin", "format version 3; this build reads version 2"]) {
            _ = try PreparedFile.decode([UInt8](sealed(future)), path: "x.bin")
        }
    }

    /// Version 1 (CRC-32 trailer) as the writer before 2026-12-06 left it in existing work directories: still read.
    func testVersionOneFilesAreStillRead() throws {
        let legacy = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("legacy/dataset-v1.bin"))))
        XCTAssertEqual(Array(legacy[8..<12]), [1, 0, 0, 0])
        let dataset = try PreparedFile.decode(legacy, path: "old.bin")
        XCTAssertEqual(dataset.info.users, 8)
        XCTAssertEqual(dataset.info.items, 12)
        XCTAssertEqual(dataset.sequences.offsets.last, 60)
        // Written again, it becomes version 2 and reads back the same.
        let rewritten = try PreparedFile.encode(dataset)
        XCTAssertEqual(Array(rewritten[8..<12]), [2, 0, 0, 0])
        XCTAssertEqual(try PreparedFile.decode(rewritten, path: "new.bin"), dataset)
        // The legacy checksum is still checked.
        var flipped = legacy
        flipped[legacy.count / 2] ^= 0x01
        assertDatasetError(["old.bin", "checksum: does not match"]) { _ = try PreparedFile.decode(flipped, path: "old.bin") }
        assertDatasetError(["old.bin", "checksum"]) { _ = try PreparedFile.decode(Array(legacy.prefix(14)), path: "old.bin") }
    }

    func testStructuralValidationCatchesBadIndices() throws {
        let good = sample(timestamps: false)
        let bad = PreparedDataset(
            info: good.info,
            sequences: PreparedSequences(
                itemCount: 4, userIDs: good.sequences.userIDs, offsets: good.sequences.offsets,
                items: [0, 1, 2, 3, 2, 1, 0, 1, 1, 9], timestamps: nil))
        assertDatasetError(["item index outside 0..<4"]) { _ = try PreparedFile.decode(PreparedFile.encode(bad), path: "x") }
    }
}

final class WorkDirectoryTests: DatasetTestCase {
    private func tinyOptions() -> PreparationOptions {
        var options = PreparationOptions(format: .lcrec, output: scratch.path("work"))
        options.input = Fixtures.path("lcrec")
        options.name = "Tiny"
        options.preprocessing.minCount = 0
        return options
    }

    func testLayoutAndNoLeftoverTemporaries() throws {
        _ = try DatasetPreparation.run(tinyOptions()) { _ in }
        XCTAssertEqual(scratch.contents(), ["work"])
        let files = try FileManager.default.contentsOfDirectory(atPath: scratch.path("work")).sorted()
        XCTAssertEqual(files, ["catalog.sqlite", "dataset.bin", "prepare.json"])
        let summary = try String(contentsOfFile: scratch.path("work/prepare.json"), encoding: .utf8)
        XCTAssertTrue(summary.contains("\"format\": \"lcrec\""), summary)
    }

    func testRePreparingReplacesAPreviousWorkDirectory() throws {
        _ = try DatasetPreparation.run(tinyOptions()) { _ in }
        var options = tinyOptions()
        options.preprocessing.minCount = 2
        _ = try DatasetPreparation.run(options) { _ in }
        XCTAssertEqual(try WorkDirectory.load(URL(fileURLWithPath: scratch.path("work"))).itemCount, 5)
        XCTAssertEqual(scratch.contents(), ["work"])
    }

    func testRefusesToReplaceAnUnrelatedDirectory() throws {
        try scratch.write("work/notes.txt", "mine")
        assertDatasetError(["work", "not a prepared work directory"]) { _ = try DatasetPreparation.run(tinyOptions()) { _ in } }
        XCTAssertEqual(try String(contentsOfFile: scratch.path("work/notes.txt"), encoding: .utf8), "mine")
    }

    func testFailureLeavesThePreviousWorkDirectoryIntact() throws {
        _ = try DatasetPreparation.run(tinyOptions()) { _ in }
        var options = tinyOptions()
        options.preprocessing.minCount = 50
        assertDatasetError(["no data left"]) { _ = try DatasetPreparation.run(options) { _ in } }
        XCTAssertEqual(try WorkDirectory.load(URL(fileURLWithPath: scratch.path("work"))).itemCount, 6)
        XCTAssertEqual(scratch.contents(), ["work"])
    }

    func testLoadingSomethingElseIsAClearError() throws {
        try scratch.write("empty/readme", "x")
        assertDatasetError(["not a prepared work directory"]) { _ = try WorkDirectory.load(URL(fileURLWithPath: scratch.path("empty"))) }
    }

    func testInvalidOptions() {
        var options = tinyOptions()
        options.maxHistory = 0
        assertDatasetError(["--max-history"]) { _ = try DatasetPreparation.run(options) { _ in } }
        options = PreparationOptions(format: .amazon2023, output: scratch.path("work"))
        assertDatasetError(["--reviews"]) { _ = try DatasetPreparation.run(options) { _ in } }
        XCTAssertEqual(try PreparationOptions.Format.parse("lcrec"), .lcrec)
        assertDatasetError(["unknown input format \"parquet\""]) { _ = try PreparationOptions.Format.parse("parquet") }
    }
}

final class StatsTests: DatasetTestCase {
    func testTinyStatsByHand() throws {
        let (dataset, _, _) = try prepare(.lcrec) {
            $0.input = Fixtures.path("lcrec")
            $0.name = "Tiny"
            $0.preprocessing.minCount = 0
            $0.maxHistory = 3
        }
        let stats = DatasetStats(dataset)
        XCTAssertEqual(stats.users, 4)
        XCTAssertEqual(stats.items, 6)
        XCTAssertEqual(stats.interactions, 18)
        XCTAssertEqual(stats.sparsity, 0.25, accuracy: 1e-12)  // 1 − 18 / (4 × 6)
        XCTAssertEqual(stats.length.min, 3)
        XCTAssertEqual(stats.length.median, 4)
        XCTAssertEqual(stats.length.p90, 6)
        XCTAssertEqual(stats.length.max, 6)
        XCTAssertEqual(stats.length.mean, 4.5)
        XCTAssertEqual(stats.length.histogram.map(\.users), [2, 2, 0, 0, 0, 0])
        XCTAssertEqual(stats.usersTruncated, 2)  // lengths 5 and 6 have test histories of 4 and 5 > 3
        XCTAssertEqual(stats.trainingExamples, 6)

        let json = stats.json()
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(object["users"] as? Int, 4)
        XCTAssertEqual(object["items"] as? Int, 6)
        XCTAssertEqual(object["interactions"] as? Int, 18)
        XCTAssertEqual(object["sparsity"] as? Double, 0.25)
        XCTAssertTrue(stats.text().contains("Tiny\t4\t6\t18\t25.0%"), stats.text())
    }
}

/// Issue 11: crafted `dataset.bin` files (valid checksums) give errors, never traps.
final class HostilePreparedFileTests: DatasetTestCase {
    private func dataset(users: Int = 3, offsets: [Int] = [0, 3, 7, 10]) -> PreparedDataset {
        let sequences = PreparedSequences(
            itemCount: 4, userIDs: ["a", "b", "c"], offsets: offsets, items: [0, 1, 2, 3, 2, 1, 0, 1, 1, 3], timestamps: nil)
        let info = PreparedInfo(
            name: "S", sourceFormat: "csv", maxHistory: 20, targetMode: .last, minCount: 1, users: users, items: 4,
            interactions: 10, hasTimestamps: false, preprocessing: PreprocessingReport(), createdBy: "test")
        return PreparedDataset(info: info, sequences: sequences)
    }

    private func resealed(_ bytes: [UInt8]) -> [UInt8] { [UInt8](sealed(bytes.dropLast(checksumByteCount))) }

    func testSectionLengthAboveIntMaxIsAnError() throws {
        var bytes = try PreparedFile.encode(dataset())
        let headerLength = Int(bytes[12]) | Int(bytes[13]) << 8 | Int(bytes[14]) << 16 | Int(bytes[15]) << 24
        for i in 0..<8 { bytes[16 + headerLength + i] = 0xFF }  // the offsets section's length
        assertDatasetError(["x.bin", "section offsets: longer than the file"]) {
            _ = try PreparedFile.decode(resealed(bytes), path: "x.bin")
        }
    }

    func testHeaderCountsNearIntMaxAreErrors() throws {
        assertDatasetError(["header counts (users 9223372036854775807"]) {
            _ = try PreparedFile.decode(PreparedFile.encode(dataset(users: Int.max)), path: "x.bin")
        }
    }

    func testOffsetsThatWouldOverflowASubtractionAreInconsistent() throws {
        assertDatasetError(["user offsets are inconsistent"]) {
            _ = try PreparedFile.decode(PreparedFile.encode(dataset(offsets: [0, Int.max, -10, 10])), path: "x.bin")
        }
    }
}

import Foundation
import XCTest
import SafeTensors

final class FileIOTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func listing() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    private func sample(_ x: Float) -> SafeTensors {
        var value = SafeTensors()
        value.add("x", shape: [3], floats: [x, x + 1, x + 2])
        value.metadata = ["step": "\(x)"]
        return value
    }

    func testWriteThenReadLeavesOnlyTheFile() throws {
        let url = directory.appendingPathComponent("model.safetensors")
        try sample(1).write(to: url)
        XCTAssertEqual(try listing(), ["model.safetensors"])
        XCTAssertEqual(try Data(contentsOf: url), sample(1).serialized())
        XCTAssertEqual(try SafeTensors.read(contentsOf: url), sample(1))
    }

    /// A reader holding the old file keeps seeing the old bytes: the new file was renamed into place,
    /// not written over the old one.
    func testOverwriteReplacesByRename() throws {
        let url = directory.appendingPathComponent("model.safetensors")
        try sample(1).write(to: url)
        let oldReader = try FileHandle(forReadingFrom: url)
        defer { try? oldReader.close() }

        try sample(10).write(to: url)
        XCTAssertEqual(try oldReader.readToEnd(), sample(1).serialized())
        XCTAssertEqual(try SafeTensors.read(contentsOf: url), sample(10))
        XCTAssertEqual(try listing(), ["model.safetensors"])
    }

    func testFailedWriteRemovesTemporaryFile() throws {
        // Renaming a file over a non-empty directory fails after the temporary file was written.
        let blocker = directory.appendingPathComponent("model.safetensors")
        try FileManager.default.createDirectory(at: blocker, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: blocker.appendingPathComponent("inner"))
        assertThrowsMessage(try sample(1).write(to: blocker), blocker.path, "cannot replace")
        XCTAssertEqual(try listing(), ["model.safetensors"])

        let missingDir = directory.appendingPathComponent("no-such-dir/model.safetensors")
        assertThrowsMessage(try sample(1).write(to: missingDir), missingDir.path)
    }

    func testReadErrorsNameTheFile() throws {
        let missing = directory.appendingPathComponent("missing.safetensors")
        assertThrowsMessage(try SafeTensors.read(contentsOf: missing), missing.path, "cannot read")

        let corrupt = directory.appendingPathComponent("corrupt.safetensors")
        var bytes = sample(1).serialized()
        bytes.removeLast()
        try bytes.write(to: corrupt)
        assertThrowsMessage(try SafeTensors.read(contentsOf: corrupt), corrupt.path + ": file is truncated")
    }
}

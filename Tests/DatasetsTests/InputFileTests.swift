import Foundation
import XCTest

@testable import Datasets

final class InputFileTests: DatasetTestCase {
    private func lines(_ path: String) throws -> [(String, Int)] {
        var result: [(String, Int)] = []
        try InputFile.forEachLine(path) { line, number in result.append((String(decoding: line, as: UTF8.self), number)) }
        return result
    }

    func testLinesWithCRLFAndWithoutFinalNewline() throws {
        let path = try scratch.write("a.txt", "one\r\ntwo\n\nthree")
        let read = try lines(path)
        XCTAssertEqual(read.map(\.0), ["one", "two", "", "three"])
        XCTAssertEqual(read.map(\.1), [1, 2, 3, 4])
    }

    func testLinesLongerThanTheBuffer() throws {
        let long = 5 << 20  // more than the 4 MiB read buffer
        let path = scratch.path("long.txt")
        try Data(Array("a\n".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: long) + Array("\nb\n".utf8))
            .write(to: URL(fileURLWithPath: path))
        var lengths: [Int] = []
        var lastByte: UInt8 = 0
        try InputFile.forEachLine(path) { line, _ in
            lengths.append(line.count)
            lastByte = line.last ?? 0
        }
        XCTAssertEqual(lengths, [1, long, 1])
        XCTAssertEqual(lastByte, UInt8(ascii: "b"))
    }

    func testGzipIsReadTransparently() throws {
        let plain = try InputFile.readAll(Fixtures.path("amazon2023/meta.jsonl.gz"))
        let text = String(decoding: plain, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("{\"main_category\": \"All Beauty\""), String(text.prefix(80)))
        XCTAssertEqual(try lines(Fixtures.path("amazon2023/meta.jsonl.gz")).count, 6)
    }

    func testTruncatedGzipIsAnErrorNotAShortFile() throws {
        let gz = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("amazon2023/meta.jsonl.gz")))
        let cut = scratch.path("cut.jsonl.gz")
        try gz.prefix(gz.count / 2).write(to: URL(fileURLWithPath: cut))
        assertDatasetError(["cut.jsonl.gz"]) { _ = try InputFile.readAll(cut) }
        assertDatasetError(["cut.jsonl.gz"]) { try InputFile.forEachLine(cut) { _, _ in } }
    }

    func testMissingFilesAndDirectoriesAreNamed() {
        assertDatasetError(["nope.json", "no such file"]) { _ = try InputFile.readAll(scratch.path("nope.json")) }
        assertDatasetError(["is a directory"]) { _ = try InputFile.readAll(scratch.url.path) }
    }

    func testDelimitedFieldsWithQuotes() throws {
        func split(_ text: String, _ delimiter: Character = ",") throws -> [String] {
            try Array(text.utf8).withUnsafeBufferPointer { try DelimitedText.fields($0, delimiter: delimiter.asciiValue!) }
        }
        XCTAssertEqual(try split("a,b,,c"), ["a", "b", "", "c"])
        XCTAssertEqual(try split("\"x,y\",\"say \"\"hi\"\"\",z"), ["x,y", "say \"hi\"", "z"])
        XCTAssertEqual(try split("a\tb,c\t", "\t"), ["a", "b,c", ""])
        XCTAssertEqual(try split(""), [""])
        XCTAssertThrowsError(try split("\"open,b"))
    }
}

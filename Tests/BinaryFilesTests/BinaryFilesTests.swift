import Foundation
import XCTest

import BinaryFiles
import TestSupport

final class ChecksumTests: XCTestCase {
    /// Published FNV-1a 64 test vectors (Fowler/Noll/Vo), so the trailer is the standard hash and not a near miss.
    func testKnownVectors() {
        XCTAssertEqual(fnv1a(Data()), 0xcbf2_9ce4_8422_2325)
        XCTAssertEqual(fnv1a(Data("a".utf8)), 0xaf63_dc4c_8601_ec8c)
        XCTAssertEqual(fnv1a(Data("foobar".utf8)), 0x8594_4171_f739_67e8)
        // Every byte container hashes alike, slices from their own start.
        XCTAssertEqual(fnv1a(Array("foobar".utf8)), 0x8594_4171_f739_67e8)
        XCTAssertEqual(fnv1a(Array("xfoobar".utf8).dropFirst()), 0x8594_4171_f739_67e8)
        XCTAssertEqual(fnv1a(Data("xfoobar".utf8).dropFirst()), 0x8594_4171_f739_67e8)
    }

    func testSealedAppendsTheLittleEndianChecksum() {
        let out = sealed(Array("a".utf8))
        XCTAssertEqual(out.count, 1 + checksumByteCount)
        XCTAssertEqual(Array(out.suffix(8)), [0x8c, 0xec, 0x01, 0x86, 0x4c, 0xdc, 0x63, 0xaf])
    }
}

final class ByteFormatTests: XCTestCase {
    private func sample() -> Data {
        var writer = ByteWriter(magic: "TESTFILE", version: 3)
        writer.append(UInt8(7))
        writer.append(Int32(-5))
        writer.append(UInt64(3))
        writer.append("ü text")
        writer.append(contentsOf: [Int32(1), -2, 3])
        writer.appendSection([1.5, -2.25])
        writer.appendSection([UInt8]())
        return writer.finished()
    }

    func testEveryFieldKindRoundTrips() throws {
        var reader = try ByteReader(data: sample(), path: "t.bin", magic: "TESTFILE", version: 3, kind: "test")
        XCTAssertEqual(try reader.read(UInt8.self, field: "a"), 7)
        XCTAssertEqual(try reader.read(Int32.self, field: "b"), -5)
        let count = try reader.readCount(field: "count")
        XCTAssertEqual(try reader.readString(field: "text"), "ü text")
        XCTAssertEqual(try reader.readArray(Int32.self, count: count, field: "values"), [1, -2, 3])
        XCTAssertEqual(try reader.readSection(Double.self, field: "doubles"), [1.5, -2.25])
        XCTAssertEqual(try reader.readSection(UInt8.self, field: "empty"), [])
        XCTAssertNoThrow(try reader.expectEnd())
    }

    func testLayoutIsMagicVersionFieldsChecksum() {
        let bytes = [UInt8](sample())
        XCTAssertEqual(Array(bytes[0..<8]), Array("TESTFILE".utf8))
        XCTAssertEqual(Array(bytes[8..<12]), [3, 0, 0, 0])
        XCTAssertEqual(bytes[12], 7)
        XCTAssertEqual(Data(bytes.suffix(8)), Data(sealed(bytes.dropLast(8)).suffix(8)))
    }

    private func assertMalformed(_ data: Data, version: UInt32 = 3, _ expected: String, read: (inout ByteReader) throws -> Void = { _ in },
                                 file: StaticString = #filePath, line: UInt = #line) {
        do {
            var reader = try ByteReader(data: data, path: "t.bin", magic: "TESTFILE", version: version, kind: "test")
            try read(&reader)
            XCTFail("no error, expected \(expected)", file: file, line: line)
        } catch let error as BinaryFileError {
            XCTAssertTrue(error.description.hasPrefix("t.bin: "), "\(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains(expected), "\(error) lacks \(expected)", file: file, line: line)
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }

    func testMagicVersionAndChecksumAreCheckedInThatOrder() {
        let good = sample()
        assertMalformed(Data("TEST".utf8), "magic: not a test file")
        assertMalformed(Data("OTHERFILE-and-more-bytes".utf8), "magic: not a test file")
        // Another version is reported as such even though its checksum is fine.
        assertMalformed(good, version: 4, "version: format version 3; this build reads version 4")
        // A file of another version with a torn tail still says its version.
        assertMalformed(good.prefix(20), version: 4, "format version 3")
        var flipped = [UInt8](good)
        flipped[14] ^= 0x10
        assertMalformed(Data(flipped), "checksum: does not match the contents")
        assertMalformed(good.prefix(good.count - 1), "checksum: does not match the contents")
        assertMalformed(good.prefix(15), "checksum: the file ends before it")
    }

    /// Bodies that pass the checksum but claim more than they hold: errors naming the field, never a trap.
    func testFieldsThatOverrunTheFileAreErrors() {
        func file(_ build: (inout ByteWriter) -> Void) -> Data {
            var writer = ByteWriter(magic: "TESTFILE", version: 3)
            build(&writer)
            return writer.finished()
        }
        assertMalformed(file { $0.append(UInt16(1)) }, "wide: file ends inside this field") { _ = try $0.read(UInt32.self, field: "wide") }
        assertMalformed(file { $0.append(UInt64.max) }, "count: 18446744073709551615 is too large") { _ = try $0.readCount(field: "count") }
        assertMalformed(file { $0.append(UInt32(100)); $0.appendBytes([1, 2]) }, "text: file ends inside this field") {
            _ = try $0.readString(field: "text")
        }
        assertMalformed(file { $0.append(UInt32(2)); $0.appendBytes([0xff, 0xfe]) }, "text: not UTF-8") { _ = try $0.readString(field: "text") }
        assertMalformed(file { $0.append(contentsOf: [Int32(1)]) }, "values: file ends inside this field") {
            _ = try $0.readArray(Int32.self, count: 2, field: "values")
        }
        assertMalformed(file { $0.append(UInt64.max) }, "section s: longer than the file") { _ = try $0.readSection(UInt8.self, field: "section s") }
        assertMalformed(file { $0.append(UInt64(3)); $0.appendBytes([1, 2, 3]) }, "s: section length 3 is not a multiple of 2") {
            _ = try $0.readSection(UInt16.self, field: "s")
        }
        assertMalformed(file { $0.append(UInt8(1)) }, "end: 1 unexpected bytes after the last field") { try $0.expectEnd() }
    }
}

final class AtomicWriteTests: XCTestCase {
    func testReplacesInPlaceAndLeavesNoTemporaryFile() throws {
        let url = try temporaryDirectory(self).appendingPathComponent("sub/out.bin")
        try writeAtomically(Data("one".utf8), to: url)
        try writeAtomically(Data("two".utf8), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data("two".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path), ["out.bin"])
    }

    func testAnUnwritableDestinationIsAnErrorNamingIt() throws {
        let dir = try temporaryDirectory(self)
        // A regular file where a directory is needed fails for every user, root included.
        try Data().write(to: dir.appendingPathComponent("plain"))
        let url = dir.appendingPathComponent("plain/out.bin")
        XCTAssertThrowsError(try writeAtomically(Data("x".utf8), to: url)) { error in
            guard case BinaryFileError.unwritable(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, url.path)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["plain"])
    }
}

@testable import Quantization
import Foundation
import SafeTensors
import TestSupport
import XCTest

final class InputTests: XCTestCase {
    private func npyBytes(descr: String, shape: String, payload: [UInt8], fortran: Bool = false) -> Data {
        var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: payload)
        return data
    }

    func testFloat32RoundTripAndOtherDTypes() throws {
        let directory = try temporaryDirectory(self)
        let matrix = FloatMatrix(rows: 2, columns: 3, scalars: [1, -2, 3.5, 0.25, 5, -6])
        let url = directory.appendingPathComponent("m.npy")
        try NpyFile.write(matrix, to: url)
        XCTAssertEqual(try NpyFile.readMatrix(url.path).scalars, matrix.scalars)

        let half = npyBytes(descr: "<f2", shape: "(1, 3)", payload: [0x00, 0x3C, 0x00, 0xC0, 0x55, 0x35])
        try half.write(to: directory.appendingPathComponent("h.npy"))
        XCTAssertEqual(try NpyFile.readMatrix(directory.appendingPathComponent("h.npy").path).scalars, [1, -2, 0.333251953125])

        let big = npyBytes(descr: ">f4", shape: "(1, 2)", payload: [0x3F, 0x80, 0, 0, 0xC0, 0x40, 0, 0])
        try big.write(to: directory.appendingPathComponent("b.npy"))
        XCTAssertEqual(try NpyFile.readMatrix(directory.appendingPathComponent("b.npy").path).scalars, [1, -3])

        var doubles: [UInt8] = []
        for value in [0.5, -1.25] { withUnsafeBytes(of: value.bitPattern.littleEndian) { doubles += $0 } }
        try npyBytes(descr: "<f8", shape: "(2, 1)", payload: doubles).write(to: directory.appendingPathComponent("d.npy"))
        XCTAssertEqual(try NpyFile.readMatrix(directory.appendingPathComponent("d.npy").path).scalars, [0.5, -1.25])
    }

    func testBadNpyFilesNameTheProblem() throws {
        let directory = try temporaryDirectory(self)
        func check(_ data: Data, _ expected: String) throws {
            let url = directory.appendingPathComponent("bad.npy")
            try data.write(to: url)
            assertThrowsError(try NpyFile.readMatrix(url.path), containing: expected)
        }
        try check(Data("not numpy at all".utf8), "bad.npy: magic: not a NumPy .npy file")
        try check(npyBytes(descr: "<f4", shape: "(2, 1)", payload: [0, 0, 0, 0]), "shape: (2, 1) needs")
        try check(npyBytes(descr: "<i4", shape: "(1, 1)", payload: [0, 0, 0, 0]), "descr: dtype '<i4' is not a float16")
        try check(npyBytes(descr: "<f4", shape: "(1, 1, 1)", payload: [0, 0, 0, 0]), "shape: expected a 2-D shape")
        try check(npyBytes(descr: "<f4", shape: "(1, 1)", payload: [0, 0, 0, 0], fortran: true), "fortran_order")
        try check(npyBytes(descr: "<f4", shape: "(2, 1)", payload: [0, 0, 0, 0, 0, 0, 0xC0, 0x7F]), "bad.npy: row 1: value nan in column 0 is not finite")
    }

    func testEmbeddingsAreAlignedToTheCatalogByIDs() throws {
        let directory = try temporaryDirectory(self)
        let url = directory.appendingPathComponent("e.npy")
        try NpyFile.write(FloatMatrix(rows: 4, columns: 2, scalars: [0, 0, 1, 1, 2, 2, 3, 3]), to: url)
        let ids = directory.appendingPathComponent("ids.txt")
        try "c\nzz\na\nb\n".write(to: ids, atomically: true, encoding: .utf8)
        let aligned = try EmbeddingInput.load(path: url.path, idsPath: ids.path, catalogIDs: ["a", "b", "c", "d"])
        XCTAssertEqual(aligned.present, [true, true, true, false])
        XCTAssertEqual(aligned.items, [0, 1, 2])
        XCTAssertEqual(aligned.matrix.scalars, [2, 2, 3, 3, 0, 0])
        XCTAssertEqual(aligned.notes.count, 2)  // one unknown id, one item without a row

        try "c\nzz\na\n".write(to: ids, atomically: true, encoding: .utf8)
        assertThrowsError(try EmbeddingInput.load(path: url.path, idsPath: ids.path, catalogIDs: ["a"]), containing: "lists 3 ids but")
        try "c\na\nc\nb\n".write(to: ids, atomically: true, encoding: .utf8)
        assertThrowsError(try EmbeddingInput.load(path: url.path, idsPath: ids.path, catalogIDs: ["a", "b", "c"]),
                               containing: "ids.txt: line 3: id \"c\" repeats line 1")
        // Without ids: one row per item, or one extra leading padding row.
        XCTAssertEqual(try EmbeddingInput.load(path: url.path, idsPath: nil, catalogIDs: ["a", "b", "c", "d"]).matrix.scalars.count, 8)
        let padded = try EmbeddingInput.load(path: url.path, idsPath: nil, catalogIDs: ["a", "b", "c"])
        XCTAssertEqual(padded.matrix.scalars, [1, 1, 2, 2, 3, 3])
        assertThrowsError(try EmbeddingInput.load(path: url.path, idsPath: nil, catalogIDs: ["a"]), containing: "pass --ids")
    }

    func testSafetensorsEmbeddings() throws {
        let directory = try temporaryDirectory(self)
        var file = SafeTensors()
        file.add("item_embedding", shape: [3, 2], floats: [0, 0, 1, 2, 3, 4])
        file.add("other", shape: [2, 2], floats: [9, 9, 9, 9])
        let url = directory.appendingPathComponent("sasrec.safetensors")
        try file.write(to: url)
        let aligned = try EmbeddingInput.load(path: url.path, idsPath: nil, catalogIDs: ["x", "y"])
        XCTAssertEqual(aligned.matrix.scalars, [1, 2, 3, 4])  // row 0 is the padding row
        XCTAssertEqual(try EmbeddingInput.load(path: url.path, idsPath: nil, tensorName: "other", catalogIDs: ["x", "y"]).matrix.scalars, [9, 9, 9, 9])
        assertThrowsError(try EmbeddingInput.load(path: url.path, idsPath: nil, tensorName: "nope", catalogIDs: ["x"]), containing: "nope: no such tensor")
    }

    func testLCRecIndexJSON() throws {
        let directory = try temporaryDirectory(self)
        let url = directory.appendingPathComponent("x.index.json")
        try #"{"0": ["<a_3>", "<b_200>"], "2": ["<a_1>", "<b_0>"], "7": ["<a_0>", "<b_1>"]}"#.write(to: url, atomically: true, encoding: .utf8)
        let read = try LCRecIndex.read(path: url.path, catalogIDs: ["0", "1", "2"])
        XCTAssertEqual(read.codes, [3, 200, 0, 0, 1, 0])
        XCTAssertEqual(read.present, [true, false, true])
        XCTAssertEqual(read.observedSizes, [4, 201])
        XCTAssertEqual(read.notes.count, 2)
        try #"{"0": ["<a_3>", "<b_2>"], "1": ["<a_3>", "<c_2>"]}"#.write(to: url, atomically: true, encoding: .utf8)
        assertThrowsError(try LCRecIndex.read(path: url.path, catalogIDs: ["0"]), containing: "x.index.json: \"1\"[1]: \"<c_2>\" names level c")
        try #"{"0": ["<a_3>", "<b_2>"], "1": ["<a_3>"]}"#.write(to: url, atomically: true, encoding: .utf8)
        assertThrowsError(try LCRecIndex.read(path: url.path, catalogIDs: ["0"]), containing: "\"1\": 1 codes where other items have 2")
        try #"{"0": ["a_3"]}"#.write(to: url, atomically: true, encoding: .utf8)
        assertThrowsError(try LCRecIndex.read(path: url.path, catalogIDs: ["0"]), containing: "is not a code like")
    }
}

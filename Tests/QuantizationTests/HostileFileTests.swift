@testable import Quantization
import Foundation
import TestSupport
import ItemCodes
import XCTest

/// Issue 11: crafted files must give a CodesError naming the file and field, never an overflow trap, an
/// out-of-bounds read or a giant allocation.
final class HostileFileTests: XCTestCase {
    private func npy(shape: String) -> [UInt8] {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        let length = UInt16(header.utf8.count)
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8) + [0, 0, 0, 0]
    }

    /// The `.npy` that made `mscgrec-trainer quantize` exit with an overflow trap in the shape product.
    func testHugeNpyShapeIsAnError() throws {
        let bytes = npy(shape: "(9223372036854775807, 768)")
        assertThrowsError(try NpyFile.header(bytes: bytes, path: "x.npy"),
                               containing: "x.npy: shape: (9223372036854775807, 768) is too large for any file")
        let url = try temporaryDirectory(self).appendingPathComponent("hostile.npy")
        try Data(bytes).write(to: url)
        assertThrowsError(try NpyFile.header(of: url.path), containing: "is too large for any file")
        assertThrowsError(try NpyFile.readMatrix(url.path), containing: "is too large for any file")
        // Products that fit but disagree with the file size keep their exact message.
        assertThrowsError(try NpyFile.header(bytes: npy(shape: "(2, 3)"), path: "y.npy"),
                               containing: "y.npy: shape: (2, 3) needs 152 bytes, the file has 132")
        XCTAssertEqual(try NpyFile.header(bytes: npy(shape: "(1, 1)"), path: "z.npy").rows, 1)
    }

    func testLCRecIndexLevelCountIsBoundedBeforeAllocating() throws {
        let tokens = (0..<65).map { "\"<a_\($0)>\"" }.joined(separator: ", ")
        let data = Data("{\"0\": [\(tokens)]}".utf8)
        assertThrowsError(try LCRecIndex.parse(data, path: "x.index.json", catalogIDs: ["0"]),
                               containing: "x.index.json: \"0\": 65 codes; at most 64 levels are supported")
    }
}

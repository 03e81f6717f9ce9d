@testable import Codes
import Foundation
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
        assertThrowsCodesError(try NpyFile.header(bytes: bytes, path: "x.npy"),
                               containing: "x.npy: shape: (9223372036854775807, 768) is too large for any file")
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(getpid()).npy")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        assertThrowsCodesError(try NpyFile.header(of: url.path), containing: "is too large for any file")
        assertThrowsCodesError(try NpyFile.readMatrix(url.path), containing: "is too large for any file")
        // Products that fit but disagree with the file size keep their exact message.
        assertThrowsCodesError(try NpyFile.header(bytes: npy(shape: "(2, 3)"), path: "y.npy"),
                               containing: "y.npy: shape: (2, 3) needs 152 bytes, the file has 132")
        XCTAssertEqual(try NpyFile.header(bytes: npy(shape: "(1, 1)"), path: "z.npy").rows, 1)
    }

    /// items: 0 → [1,0], 1 → absent, 2 → [0,2], 3 → [1,1], 4 → [0,0]; childStart is [1, 3, 5, 7].
    private func smallTree() throws -> PrefixTree {
        try PrefixTree(codes: [1, 0, 9, 9, 0, 2, 1, 1, 0, 0], depth: 2, codebookSizes: [2, 3],
                       present: [true, false, true, true, true])
    }

    private func variant(_ tree: PrefixTree, itemCount: Int? = nil, childStart: [Int32]? = nil) -> Data {
        PrefixTree(depth: tree.depth, codebookSizes: tree.codebookSizes, itemCount: itemCount ?? tree.itemCount,
                   levelStart: tree.levelStart, labels: tree.labels, childStart: childStart ?? tree.childStart,
                   leafItems: tree.leafItems).serialized()
    }

    func testChildRangesOutsideTheirLevelAreErrors() throws {
        let tree = try smallTree()
        XCTAssertEqual(tree.childStart, [1, 3, 5, 7])
        // Past the last node (labels[7] would be read) and backwards (an invalid range): both used to trap.
        assertThrowsCodesError(try PrefixTree(serialized: variant(tree, childStart: [1, 3, 9, 7]), path: "t.tree"),
                               containing: "t.tree: childStart[1]: children 3..<9 fall outside depth 2 or run backwards")
        assertThrowsCodesError(try PrefixTree(serialized: variant(tree, childStart: [1, 3, 2, 7]), path: "t.tree"),
                               containing: "t.tree: childStart[1]: children 3..<2 fall outside depth 2 or run backwards")
    }

    func testClaimedItemCountDoesNotDecideTheAllocation() throws {
        // Two billion claimed items, four stored: loads without a 2 GB table.
        let loaded = try PrefixTree(serialized: variant(try smallTree(), itemCount: Int(Int32.max)), path: "t.tree")
        XCTAssertEqual(loaded.itemCount, Int(Int32.max))
        XCTAssertEqual(loaded.leafItems, try smallTree().leafItems)
    }

    func testLCRecIndexLevelCountIsBoundedBeforeAllocating() throws {
        let tokens = (0..<65).map { "\"<a_\($0)>\"" }.joined(separator: ", ")
        let data = Data("{\"0\": [\(tokens)]}".utf8)
        assertThrowsCodesError(try LCRecIndex.parse(data, path: "x.index.json", catalogIDs: ["0"]),
                               containing: "x.index.json: \"0\": 65 codes; at most 64 levels are supported")
    }
}

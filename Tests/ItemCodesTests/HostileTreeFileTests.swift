@testable import ItemCodes
import Foundation
import TestSupport
import XCTest

/// Issue 11: crafted tree files must give a CodesError naming the file and field, never a trap or a giant allocation.
final class HostileTreeFileTests: XCTestCase {
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
        assertThrowsError(try PrefixTree(serialized: variant(tree, childStart: [1, 3, 9, 7]), path: "t.tree"),
                               containing: "t.tree: childStart[1]: children 3..<9 fall outside depth 2 or run backwards")
        assertThrowsError(try PrefixTree(serialized: variant(tree, childStart: [1, 3, 2, 7]), path: "t.tree"),
                               containing: "t.tree: childStart[1]: children 3..<2 fall outside depth 2 or run backwards")
    }

    func testClaimedItemCountDoesNotDecideTheAllocation() throws {
        // Two billion claimed items, four stored: loads without a 2 GB table.
        let loaded = try PrefixTree(serialized: variant(try smallTree(), itemCount: Int(Int32.max)), path: "t.tree")
        XCTAssertEqual(loaded.itemCount, Int(Int32.max))
        XCTAssertEqual(loaded.leafItems, try smallTree().leafItems)
    }
}

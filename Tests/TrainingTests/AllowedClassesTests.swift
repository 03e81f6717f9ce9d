import ItemCodes
import Training
import XCTest

final class AllowedClassesTests: XCTestCase {
    /// items: 0 → [1,0], 1 → absent, 2 → [0,2], 3 → [1,1], 4 → [0,0]
    private func smallTree() throws -> PrefixTree {
        try PrefixTree(codes: [1, 0, 9, 9, 0, 2, 1, 1, 0, 0], depth: 2, codebookSizes: [2, 3],
                       present: [true, false, true, true, true])
    }

    func testAllowedClassesGiveTheChildrenOfEveryTargetPrefix() throws {
        let tree = try smallTree()
        let allowed = tree.allowedClasses(targets: [[0, 2], [1, 1]])
        XCTAssertEqual(allowed.rowCount, 4)
        XCTAssertEqual(Array(allowed.row(0)), [0, 1])
        XCTAssertEqual(Array(allowed.row(1)), [0, 2])
        XCTAssertEqual(Array(allowed.row(2)), [0, 1])
        XCTAssertEqual(Array(allowed.row(3)), [0, 1])
        let shifted = tree.allowedClasses(targets: [[0, 2]], classOffsets: [0, 2])
        XCTAssertEqual(Array(shifted.row(1)), [2, 4])
    }
}

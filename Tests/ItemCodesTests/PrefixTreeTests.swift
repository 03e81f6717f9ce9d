@testable import ItemCodes
import Dispatch
import TensorEngine
import TestSupport
import XCTest

final class PrefixTreeTests: XCTestCase {
    /// items: 0 → [1,0], 1 → absent, 2 → [0,2], 3 → [1,1], 4 → [0,0]
    private func smallTree() throws -> PrefixTree {
        try PrefixTree(codes: [1, 0, 9, 9, 0, 2, 1, 1, 0, 0], depth: 2, codebookSizes: [2, 3],
                       present: [true, false, true, true, true])
    }

    func testHandBuiltTreeHasTheExpectedArrays() throws {
        let tree = try smallTree()
        XCTAssertEqual(tree.levelStart, [0, 1, 3, 7])
        XCTAssertEqual(tree.labels, [-1, 0, 1, 0, 2, 0, 1])
        XCTAssertEqual(tree.childStart, [1, 3, 5, 7])
        XCTAssertEqual(tree.leafItems, [4, 2, 0, 3])
        XCTAssertEqual(Array(tree.allowedCodes(after: [])!), [0, 1])
        XCTAssertEqual(Array(tree.allowedCodes(after: [0])!), [0, 2])
        XCTAssertEqual(Array(tree.allowedCodes(after: [0, 2])!), [])
        XCTAssertNil(tree.allowedCodes(after: [0, 1]))
        XCTAssertEqual(tree.item(forSequence: [1, 1]), 3)
        XCTAssertNil(tree.item(forSequence: [1, 2]))
        XCTAssertNil(tree.item(forSequence: [1]))
    }

    func testRandomTreesReturnExactlyTheObservedChildrenAndItems() throws {
        var rng = SeededGenerator(seed: 11)
        for trial in 0..<5 {
            let depth = 2 + trial % 3, n = 300
            let sizes = (0..<depth).map { _ in 2 + rng.index(6) }
            var present = (0..<n).map { _ in rng.uniform() < 0.9 }
            var codes = [Int32](repeating: 0, count: n * depth)
            var seen = Set<[Int32]>()
            for item in 0..<n where present[item] {
                let row = (0..<depth).map { Int32(rng.index(sizes[$0])) }
                if !seen.insert(row).inserted { present[item] = false; continue }
                codes.replaceSubrange(item * depth..<(item + 1) * depth, with: row)
            }
            let tree = try PrefixTree(codes: codes, depth: depth, codebookSizes: sizes, present: present)
            var children: [[Int32]: Set<Int32>] = [:]
            for item in 0..<n where present[item] {
                let row = Array(codes[item * depth..<(item + 1) * depth])
                for t in 0..<depth { children[Array(row[..<t]), default: []].insert(row[t]) }
                XCTAssertEqual(tree.item(forSequence: row), Int32(item))
            }
            for (prefix, expected) in children {
                let actual = Array(tree.allowedCodes(after: prefix)!)
                XCTAssertEqual(actual, expected.sorted(), "prefix \(prefix)")
            }
            XCTAssertEqual(tree.leafCount, present.filter { $0 }.count)
            var rebuilt = 0
            tree.forEachSequence { sequence, item in
                XCTAssertEqual(sequence, Array(codes[Int(item) * depth..<(Int(item) + 1) * depth]))
                rebuilt += 1
            }
            XCTAssertEqual(rebuilt, tree.leafCount)
            // Serialisation round-trips to an equal value.
            XCTAssertEqual(try PrefixTree(serialized: tree.serialized()), tree)
        }
    }

    func testDuplicateSequencesAreRefused() {
        assertThrowsError(
            try PrefixTree(codes: [1, 2, 0, 0, 1, 2], depth: 2, codebookSizes: [3, 3], present: [true, true, true]),
            containing: "items 0 and 2 have the same code sequence [1, 2]")
    }

    func testEmptyTreeRoundTrips() throws {
        let tree = try PrefixTree(codes: [0, 0], depth: 2, codebookSizes: [4, 4], present: [false])
        XCTAssertEqual(tree.leafCount, 0)
        XCTAssertEqual(Array(tree.allowedCodes(after: [])!), [])
        XCTAssertEqual(try PrefixTree(serialized: tree.serialized()), tree)
    }

    func testDamagedFilesAreRefusedWithTheReason() throws {
        let bytes = try smallTree().serialized()
        var flipped = bytes
        flipped[20] ^= 1
        assertThrowsError(try PrefixTree(serialized: flipped, path: "t.tree"), containing: "t.tree: checksum")
        assertThrowsError(try PrefixTree(serialized: bytes.prefix(30), path: "t.tree"), containing: "checksum")
        assertThrowsError(try PrefixTree(serialized: Data("hello world, not a tree".utf8), path: "t.tree"), containing: "magic")
        // A structurally wrong tree with a valid checksum: children of the root out of order.
        let tree = try smallTree()
        var labels = tree.labels
        labels.swapAt(1, 2)
        let unsorted = PrefixTree(depth: 2, codebookSizes: [2, 3], itemCount: 5, levelStart: tree.levelStart, labels: labels,
                                  childStart: tree.childStart, leafItems: tree.leafItems)
        assertThrowsError(try PrefixTree(serialized: unsorted.serialized(), path: "t.tree"), containing: "labels[2]: children of node 0 are not strictly ascending")
        let badItem = PrefixTree(depth: 2, codebookSizes: [2, 3], itemCount: 5, levelStart: tree.levelStart, labels: tree.labels,
                                 childStart: tree.childStart, leafItems: [4, 2, 0, 4])
        assertThrowsError(try PrefixTree(serialized: badItem.serialized(), path: "t.tree"), containing: "leafItems[3]")
    }

    func testFileRoundTripOnDisk() throws {
        let directory = try temporaryDirectory(self)
        let url = directory.appendingPathComponent("x.tree")
        let tree = try smallTree()
        try tree.write(to: url)
        XCTAssertEqual(try PrefixTree.read(from: url), tree)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["x.tree"])  // no temp left behind
    }

    func testConcurrentReadersSeeTheSameAnswers() throws {
        let tree = try smallTree()
        let results = UnsafeSendableBox(UnsafeMutableBufferPointer<Int32>.allocate(capacity: 64))
        defer { results.value.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            results.value[i] = tree.item(forSequence: i % 2 == 0 ? [0, 2] : [1, 0]) ?? -1
        }
        XCTAssertEqual(Array(results.value), (0..<64).map { $0 % 2 == 0 ? 2 : 0 })
    }

    func testBytesPerItemStayCompact() throws {
        var rng = SeededGenerator(seed: 2)
        let n = 20_000
        let raw = (0..<n * 3).map { _ in Int32(rng.index(64)) }
        let collision = try CollisionLevel.append(codes: raw, levels: 3, present: Array(repeating: true, count: n), capacity: 64, modality: "m")
        let tree = try PrefixTree(codes: collision.codes, depth: 4, codebookSizes: [64, 64, 64, 64], present: Array(repeating: true, count: n))
        XCTAssertLessThan(Double(tree.byteCount) / Double(n), 20)
    }
}

/// Lets concurrent test readers write disjoint slots of one buffer.
private struct UnsafeSendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

import BinaryFiles
import Foundation

/// `<modality>.tree`: the prefix tree as a binary file (little-endian, FNV-1a checksum at the end).
///
///     "MSCPTREE" u32 version=1  u32 depth  u64 itemCount  u64 codebookSizes[depth]
///     u64 nodeCount  i32 levelStart[depth+2]  i32 labels[nodeCount]  i32 childStart[levelStart[depth]+1]
///     i32 leafItems[nodeCount − levelStart[depth]]  u64 checksum
///
/// Reading checks every structural invariant, so a tree that loads can be walked without further checks.
extension PrefixTree {
    static let magic = "MSCPTREE"
    static let version: UInt32 = 1

    public func serialized() -> Data {
        var writer = ByteWriter(magic: Self.magic, version: Self.version)
        writer.append(UInt32(depth))
        writer.append(UInt64(itemCount))
        for size in codebookSizes { writer.append(UInt64(size)) }
        writer.append(UInt64(nodeCount))
        writer.append(contentsOf: levelStart)
        writer.append(contentsOf: labels)
        writer.append(contentsOf: childStart)
        writer.append(contentsOf: leafItems)
        return writer.finished()
    }

    public func write(to url: URL) throws { try CodesError.mapping { try writeAtomically(serialized(), to: url) } }

    public static func read(from url: URL) throws -> PrefixTree {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw CodesError.unreadable(path: url.path, reason: "cannot read prefix tree: \(error.localizedDescription)")
        }
        return try PrefixTree(serialized: data, path: url.path)
    }

    public init(serialized data: Data, path: String = "<memory>") throws {
        self = try CodesError.mapping { try Self.decode(data, path: path) }
    }

    private static func decode(_ data: Data, path: String) throws -> PrefixTree {
        var reader = try ByteReader(data: data, path: path, magic: magic, version: version, kind: "prefix tree")
        let depth = Int(try reader.read(UInt32.self, field: "depth"))
        guard (1...64).contains(depth) else { throw reader.fail("depth", "\(depth) is outside 1...64") }
        let itemCount = try reader.readCount(field: "itemCount")
        var sizes: [Int] = []
        for level in 0..<depth {
            let size = try reader.readCount(field: "codebookSizes[\(level)]")
            guard size >= 1 else { throw reader.fail("codebookSizes[\(level)]", "must be at least 1") }
            sizes.append(size)
        }
        let nodeCount = try reader.readCount(field: "nodeCount")
        let levelStart = try reader.readArray(Int32.self, count: depth + 2, field: "levelStart")
        guard levelStart[0] == 0, levelStart[1] == 1, Int(levelStart[depth + 1]) == nodeCount,
              zip(levelStart, levelStart.dropFirst()).allSatisfy({ $0 <= $1 })
        else { throw reader.fail("levelStart", "must rise from 0, 1 to nodeCount \(nodeCount)") }
        let labels = try reader.readArray(Int32.self, count: nodeCount, field: "labels")
        let internalCount = Int(levelStart[depth])
        let childStart = try reader.readArray(Int32.self, count: internalCount + 1, field: "childStart")
        let leafItems = try reader.readArray(Int32.self, count: nodeCount - internalCount, field: "leafItems")
        try reader.expectEnd()

        // Children of the depth-t nodes must tile the depth-(t+1) nodes, each internal node having at least one.
        for t in 0..<depth {
            let first = Int(levelStart[t]), last = Int(levelStart[t + 1])
            guard childStart[first] == levelStart[t + 1], childStart[last] == levelStart[t + 2] else {
                throw reader.fail("childStart", "children of depth \(t) do not cover depth \(t + 1)")
            }
            for v in first..<last {
                let begin = Int(childStart[v]), end = Int(childStart[v + 1])
                // Ascending within the level's span, so every `labels[c]` below is in bounds.
                guard begin <= end, end <= Int(levelStart[t + 2]) else {
                    throw reader.fail("childStart[\(v)]", "children \(begin)..<\(end) fall outside depth \(t + 1) or run backwards")
                }
                guard begin < end || nodeCount == 1 else { throw reader.fail("childStart[\(v)]", "internal node without children") }
                for c in begin..<end {
                    let code = labels[c]
                    guard code >= 0, Int(code) < sizes[t] else {
                        throw reader.fail("labels[\(c)]", "code \(code) outside 0..<\(sizes[t]) at level \(t)")
                    }
                    guard c == begin || labels[c - 1] < code else {
                        throw reader.fail("labels[\(c)]", "children of node \(v) are not strictly ascending")
                    }
                }
            }
        }
        // A set sized by the leaves actually stored: `itemCount` is a claim, and a bitmap of it could be gigabytes.
        var seen = Set<Int32>(minimumCapacity: leafItems.count)
        for (index, item) in leafItems.enumerated() {
            guard item >= 0, Int(item) < itemCount, seen.insert(item).inserted else {
                throw reader.fail("leafItems[\(index)]", "item \(item) is out of range 0..<\(itemCount) or repeated")
            }
        }
        return PrefixTree(depth: depth, codebookSizes: sizes, itemCount: itemCount, levelStart: levelStart, labels: labels,
                          childStart: childStart, leafItems: leafItems)
    }
}

/// TIGER's collision level: items that share all L quantized codes are numbered 0, 1, 2, … in one more level,
/// so every item's full sequence is unique within its modality (paper section 4.1).
public struct CollisionResult: Sendable, Equatable {
    /// Row-major `items × (levels + 1)`; rows of absent items are zero.
    public var codes: [Int32]
    /// The largest number of items sharing their first L codes (1 when there are no collisions).
    public var maxGroup: Int
    /// Items whose first L codes are shared with at least one other item.
    public var collidingItems: Int
    /// Distinct L-code prefixes.
    public var distinctPrefixes: Int
    /// The L-code prefix of the largest group.
    public var largestGroupCodes: [Int32]
}

public enum CollisionLevel {
    /// Appends the collision level to `codes` (row-major `present.count × levels`). Within a group items are
    /// numbered in item-index order. Throws when a group exceeds `capacity`, the size of the collision level.
    public static func append(codes: [Int32], levels: Int, present: [Bool], capacity: Int, modality: String) throws -> CollisionResult {
        precondition(codes.count == present.count * levels, "codes for \(codes.count / max(levels, 1)) items, presence for \(present.count)")
        guard capacity >= 1 else { throw CodesError.invalidOption(name: "collision-capacity", reason: "must be at least 1") }
        let depth = levels + 1
        var out = [Int32](repeating: 0, count: present.count * depth)
        let items = sortedByCodes(codes: codes, levels: levels, present: present)
        var result = CollisionResult(codes: [], maxGroup: 0, collidingItems: 0, distinctPrefixes: 0, largestGroupCodes: [])
        var groupStart = 0
        while groupStart < items.count {
            var groupEnd = groupStart + 1
            while groupEnd < items.count && samePrefix(codes, levels, items[groupStart], items[groupEnd], length: levels) { groupEnd += 1 }
            let size = groupEnd - groupStart
            let prefix = Array(codes[items[groupStart] * levels..<(items[groupStart] + 1) * levels])
            if size > capacity {
                throw CodesError.collisionOverflow(modality: modality, groupSize: size, capacity: capacity, example: prefix)
            }
            if size > result.maxGroup { result.maxGroup = size; result.largestGroupCodes = prefix }
            if size > 1 { result.collidingItems += size }
            result.distinctPrefixes += 1
            for (rank, item) in items[groupStart..<groupEnd].enumerated() {
                for l in 0..<levels { out[item * depth + l] = codes[item * levels + l] }
                out[item * depth + levels] = Int32(rank)
            }
            groupStart = groupEnd
        }
        result.codes = out
        return result
    }

    /// Present items sorted lexicographically by their code rows, ties by item index (a stable order).
    package static func sortedByCodes(codes: [Int32], levels: Int, present: [Bool]) -> [Int] {
        var items = present.indices.filter { present[$0] }
        codes.withUnsafeBufferPointer { c in
            items.sort { a, b in
                for l in 0..<levels {
                    let x = c[a * levels + l], y = c[b * levels + l]
                    if x != y { return x < y }
                }
                return a < b
            }
        }
        return items
    }

    @inline(__always)
    package static func samePrefix(_ codes: [Int32], _ levels: Int, _ a: Int, _ b: Int, length: Int) -> Bool {
        for l in 0..<length where codes[a * levels + l] != codes[b * levels + l] { return false }
        return true
    }
}

/// The prefix tree of one modality's full code sequences (paper section 3.3, eq. 6): the permissible next codes
/// after any prefix are the children of its node. Used by the trainer's constrained softmax and by the server's
/// constrained beam search, which reads one tree from many threads: it is an immutable value.
///
/// Layout (CSR, no per-node objects): nodes are numbered breadth-first, the root is 0, the nodes at depth t are
/// `levelStart[t]..<levelStart[t+1]`; node v's children are `childStart[v]..<childStart[v+1]`, sorted by code;
/// `labels[v]` is the code on the edge into v; leaves (depth = `depth`) carry `leafItems[v − levelStart[depth]]`.
/// About 17 bytes per item for 4 levels: one leaf plus (mostly) one node above it, 4-byte fields each.
public struct PrefixTree: Sendable, Equatable {
    public static let root: Int32 = 0

    /// Codes per full sequence (RQ levels plus the collision level).
    public let depth: Int
    /// Codes at level l lie in 0..<codebookSizes[l].
    public let codebookSizes: [Int]
    /// Item indices lie in 0..<itemCount (items without this modality have no leaf).
    public let itemCount: Int
    public let levelStart: [Int32]
    public let labels: [Int32]
    public let childStart: [Int32]
    public let leafItems: [Int32]

    /// Builds the tree of every present item's sequence (`codes` row-major `present.count × depth`).
    /// Throws when two items share a full sequence.
    public init(codes: [Int32], depth: Int, codebookSizes: [Int], present: [Bool]) throws {
        precondition(depth >= 1 && codebookSizes.count == depth, "depth \(depth) with \(codebookSizes.count) codebook sizes")
        precondition(codes.count == present.count * depth, "codes for \(codes.count / depth) items, presence for \(present.count)")
        let items = CollisionLevel.sortedByCodes(codes: codes, levels: depth, present: present)
        for (a, b) in zip(items, items.dropFirst()) where CollisionLevel.samePrefix(codes, depth, a, b, length: depth) {
            throw CodesError.duplicateSequence(firstItem: a, secondItem: b, codes: Array(codes[a * depth..<(a + 1) * depth]))
        }
        var labels: [Int32] = [-1]
        var levelStart: [Int32] = [0, 1]
        var childStart: [Int32] = []
        // node[i] is the node of sorted item i at the current depth; all start at the root.
        var node = [Int32](repeating: 0, count: items.count)
        for t in 0..<depth {
            let parentsBegin = Int(levelStart[t]), parentsEnd = Int(levelStart[t + 1])
            var childCounts = [Int32](repeating: 0, count: parentsEnd - parentsBegin)
            var previousParent: Int32 = -1
            for (position, item) in items.enumerated() {
                let parent = node[position]
                // Items are sorted, so equal prefixes are adjacent: a new node starts where the parent or the code changes.
                if parent != previousParent || codes[item * depth + t] != codes[items[position - 1] * depth + t] {
                    labels.append(codes[item * depth + t])
                    childCounts[Int(parent) - parentsBegin] += 1
                }
                previousParent = parent
                node[position] = Int32(labels.count - 1)
            }
            var next = Int32(parentsEnd)
            for count in childCounts { childStart.append(next); next += count }
            levelStart.append(Int32(labels.count))
        }
        childStart.append(Int32(labels.count))
        self.depth = depth
        self.codebookSizes = codebookSizes
        self.itemCount = present.count
        self.levelStart = levelStart
        self.labels = labels
        self.childStart = childStart
        self.leafItems = items.map { Int32($0) }
    }

    init(depth: Int, codebookSizes: [Int], itemCount: Int, levelStart: [Int32], labels: [Int32], childStart: [Int32], leafItems: [Int32]) {
        self.depth = depth
        self.codebookSizes = codebookSizes
        self.itemCount = itemCount
        self.levelStart = levelStart
        self.labels = labels
        self.childStart = childStart
        self.leafItems = leafItems
    }

    public var nodeCount: Int { labels.count }
    public var leafCount: Int { leafItems.count }

    /// Bytes held by the arrays (what `MemoryLayout` cannot see).
    public var byteCount: Int { 4 * (levelStart.count + labels.count + childStart.count + leafItems.count) + 8 * codebookSizes.count }

    public func isLeaf(_ node: Int32) -> Bool { node >= levelStart[depth] }

    /// Node ids of `node`'s children (empty for a leaf).
    @inline(__always)
    public func children(of node: Int32) -> Range<Int32> {
        isLeaf(node) ? node..<node : childStart[Int(node)]..<childStart[Int(node) + 1]
    }

    /// The codes that may follow `node`, ascending.
    public func childCodes(of node: Int32) -> ArraySlice<Int32> {
        let range = children(of: node)
        return labels[Int(range.lowerBound)..<Int(range.upperBound)]
    }

    /// The code on the edge into `node` (−1 for the root).
    public func code(of node: Int32) -> Int32 { labels[Int(node)] }

    /// The child of `node` reached by `code`, by binary search over its sorted children; nil when not permitted.
    @inline(__always)
    public func child(of node: Int32, code: Int32) -> Int32? {
        let range = children(of: node)
        var low = Int(range.lowerBound), high = Int(range.upperBound)
        while low < high {
            let mid = (low + high) >> 1
            let label = labels[mid]
            if label == code { return Int32(mid) }
            if label < code { low = mid + 1 } else { high = mid }
        }
        return nil
    }

    /// The node a code prefix leads to, or nil when no item starts with it. O(depth · log K).
    public func node(forPrefix prefix: some Sequence<Int32>) -> Int32? {
        var current = Self.root
        for code in prefix {
            guard let next = child(of: current, code: code) else { return nil }
            current = next
        }
        return current
    }

    /// The permissible next codes after `prefix` (empty after a full sequence), or nil for an unknown prefix.
    public func allowedCodes(after prefix: some Sequence<Int32>) -> ArraySlice<Int32>? {
        node(forPrefix: prefix).map(childCodes(of:))
    }

    /// The item at a leaf.
    public func item(ofLeaf node: Int32) -> Int32? {
        isLeaf(node) ? leafItems[Int(node - levelStart[depth])] : nil
    }

    /// The item whose full sequence this is, or nil.
    public func item(forSequence codes: some Collection<Int32>) -> Int32? {
        guard codes.count == depth, let leaf = node(forPrefix: codes) else { return nil }
        return item(ofLeaf: leaf)
    }

    /// Calls `body` with every (sequence, item) in lexicographic order, rebuilt from the arrays alone.
    public func forEachSequence(_ body: ([Int32], Int32) -> Void) {
        var path: [Int32] = []
        func visit(_ node: Int32) {
            if isLeaf(node) { body(path, item(ofLeaf: node)!); return }
            for child in children(of: node) {
                path.append(labels[Int(child)])
                visit(child)
                path.removeLast()
            }
        }
        visit(Self.root)
    }
}

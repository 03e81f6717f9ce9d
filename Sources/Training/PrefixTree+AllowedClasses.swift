import ItemCodes
import TensorEngine

extension PrefixTree {
    /// The constrained-softmax rows for target sequences (eq. 6): row (i, l) allows the children of target i's
    /// first l codes. `classOffsets[l]` is added to level l's codes when the model numbers classes across levels.
    public func allowedClasses(targets: [[Int32]], classOffsets: [Int32]? = nil) -> AllowedClasses {
        var offsets: [Int32] = [0]
        var classes: [Int32] = []
        for target in targets {
            precondition(target.count == depth, "target of \(target.count) codes for a depth-\(depth) tree")
            var current = Self.root
            for (level, code) in target.enumerated() {
                let shift = classOffsets?[level] ?? 0
                for allowed in childCodes(of: current) { classes.append(allowed + shift) }
                offsets.append(Int32(classes.count))
                guard let next = child(of: current, code: code) else {
                    preconditionFailure("target \(target) is not a sequence of this tree")
                }
                current = next
            }
        }
        return AllowedClasses(offsets: offsets, classes: classes)
    }
}

import Foundation

/// Per-row sets of classes, in compressed rows (CSR): row r allows classes[offsets[r]..<offsets[r+1]].
/// This is the constrained softmax of MSCGRec's eq. 6: a row normalises only over its allowed set
/// (the prefix-tree children of the code prefix), so impermissible codes neither help nor hurt the loss.
public struct AllowedClasses: Sendable, Equatable {
    public let offsets: [Int32]
    public let classes: [Int32]

    public init(offsets: [Int32], classes: [Int32]) {
        precondition(offsets.first == 0 && offsets.last.map(Int.init) == classes.count, "malformed CSR offsets")
        self.offsets = offsets
        self.classes = classes
    }

    public init(rows: [[Int32]]) {
        var offsets: [Int32] = [0]
        offsets.reserveCapacity(rows.count + 1)
        for row in rows { offsets.append(offsets.last! + Int32(row.count)) }
        self.init(offsets: offsets, classes: rows.flatMap { $0 })
    }

    public var rowCount: Int { offsets.count - 1 }
    public func row(_ r: Int) -> ArraySlice<Int32> { classes[Int(offsets[r])..<Int(offsets[r + 1])] }
}

// Shape legend: logits [N, C]; targets: N class indices (negative = ignored row); out: [] (mean over counted rows).

/// Mean cross-entropy over rows whose target is ≥ 0. With `allowed`, row r's softmax runs over its
/// allowed classes only (the target must be among them); the rest get probability and gradient zero.
public func crossEntropy(_ logits: Tensor, targets: [Int32], allowed: AllowedClasses? = nil) -> Tensor {
    precondition(logits.rank == 2 && logits.shape[0] == targets.count,
                 "crossEntropy: logits \(logits.shape) vs \(targets.count) targets")
    if let allowed { precondition(allowed.rowCount == targets.count, "allowed sets for \(allowed.rowCount) rows, \(targets.count) targets") }
    let (n, c) = (logits.shape[0], logits.shape[1])
    let probabilities = Storage(count: n * c)   // rows without a target stay unused (never read)
    var rowLosses = [Double](repeating: 0, count: n)
    let z = logits.data, p = probabilities.pointer
    rowLosses.withUnsafeMutableBufferPointer { losses in
        Parallelism.forEachChunk(n, grain: max(1, 16_384 / max(c, 1))) { rows in
            for r in rows where targets[r] >= 0 {
                let t = Int(targets[r])
                precondition(t < c, "target \(t) out of range for \(c) classes (row \(r))")
                let row = z + r * c, probs = p + r * c
                if let allowed {
                    let set = allowed.row(r)
                    precondition(set.contains(targets[r]), "row \(r): target \(t) is not among its allowed classes")
                    var maximum = -Float.infinity
                    for k in set where row[Int(k)] > maximum { maximum = row[Int(k)] }
                    var sum: Float = 0
                    for k in set { let e = fastExp(row[Int(k)] - maximum); probs[Int(k)] = e; sum += e }
                    for k in set { probs[Int(k)] /= sum }
                    losses[r] = Double(maximum + Foundation.log(sum) - row[t])
                } else {
                    let maximum = rowMax(row, c)
                    let sum = rowExpShifted(row, probs, c, shift: maximum)
                    rowScale(probs, c, 1 / sum)
                    losses[r] = Double(maximum + Foundation.log(sum) - row[t])
                }
            }
        }
    }
    let counted = targets.filter { $0 >= 0 }.count
    let loss = counted > 0 ? Float(rowLosses.reduce(0, +) / Double(counted)) : 0
    return .result([], Storage([loss]), .crossEntropy(probabilities: probabilities, targets: targets, allowed: allowed, counted: counted), [logits])
}

/// Mean binary cross-entropy of logits x against targets t ∈ [0, 1], in the stable form
/// max(x, 0) − x·t + log(1 + e^(−|x|)). The targets are constants.
public func binaryCrossEntropyWithLogits(_ logits: Tensor, targets: Tensor) -> Tensor {
    precondition(logits.shape == targets.shape, "bce: logits \(logits.shape) vs targets \(targets.shape)")
    let x = logits.data, t = targets.data
    var total: Double = 0
    for i in 0..<logits.count {
        total += Double(Swift.max(x[i], 0) - x[i] * t[i] + log1p(exp(-abs(x[i]))))
    }
    let loss = logits.count > 0 ? Float(total / Double(logits.count)) : 0
    return .result([], Storage([loss]), .bceWithLogits(targets: targets.scalars), [logits])
}

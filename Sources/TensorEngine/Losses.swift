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

/// Per-row target distributions blended into the hard targets (knowledge distillation): row r's target becomes
/// (1 − mix)·onehot(targets[r]) + mix·Σ_k weights[k]·onehot(classes[k]) over its range k ∈ offsets[r]..<offsets[r+1].
/// A row's weights sum to 1; an empty row keeps its hard target alone.
public struct SoftTargets: Sendable, Equatable {
    public let offsets: [Int32]
    public let classes: [Int32]
    public let weights: [Float]
    public let mix: Float

    public init(offsets: [Int32], classes: [Int32], weights: [Float], mix: Float) {
        precondition(offsets.first == 0 && offsets.last.map(Int.init) == classes.count && weights.count == classes.count,
                     "malformed CSR soft targets")
        precondition(mix >= 0 && mix <= 1, "soft-target mix \(mix) outside [0, 1]")
        for r in 0..<offsets.count - 1 where offsets[r] < offsets[r + 1] {
            let sum = weights[Int(offsets[r])..<Int(offsets[r + 1])].reduce(0, +)
            precondition(abs(sum - 1) < 1e-3, "soft targets of row \(r) sum to \(sum), not 1")
        }
        self.offsets = offsets; self.classes = classes; self.weights = weights; self.mix = mix
    }

    public var rowCount: Int { offsets.count - 1 }
    func range(_ r: Int) -> Range<Int> { Int(offsets[r])..<Int(offsets[r + 1]) }
    /// The share of row r's target that is soft (0 for an empty row).
    func mix(ofRow r: Int) -> Float { offsets[r] == offsets[r + 1] ? 0 : mix }
}

// Shape legend: logits [N, C]; targets: N class indices (negative = ignored row); out: [] (mean over counted rows).

/// Mean cross-entropy over rows whose target is ≥ 0. With `allowed`, row r's softmax runs over its
/// allowed classes only (the target must be among them); the rest get probability and gradient zero.
/// With `soft`, a counted row's target is the blend `SoftTargets` describes (its classes must be allowed):
/// loss_r = log Σ e^z − (1 − m)·z_t − m·Σ_k w_k·z_k, gradient p − (1 − m)·onehot(t) − m·w.
public func crossEntropy(_ logits: Tensor, targets: [Int32], allowed: AllowedClasses? = nil, soft: SoftTargets? = nil) -> Tensor {
    precondition(logits.rank == 2 && logits.shape[0] == targets.count,
                 "crossEntropy: logits \(logits.shape) vs \(targets.count) targets")
    if let allowed { precondition(allowed.rowCount == targets.count, "allowed sets for \(allowed.rowCount) rows, \(targets.count) targets") }
    if let soft { precondition(soft.rowCount == targets.count, "soft targets for \(soft.rowCount) rows, \(targets.count) targets") }
    let (n, c) = (logits.shape[0], logits.shape[1])
    let probabilities = Storage(count: n * c)   // rows without a target stay unused (never read)
    var rowLosses = [Double](repeating: 0, count: n)
    let z = logits.data, p = probabilities.pointer
    rowLosses.withUnsafeMutableBufferPointer { losses in
        Parallelism.forEachChunk(n, grain: max(1, 16_384 / max(c, 1))) { rows in
            var isAllowed = [Bool](repeating: false, count: soft != nil && allowed != nil ? c : 0)   // checks soft ⊆ allowed
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
                    if let soft, !soft.range(r).isEmpty {
                        for k in set { isAllowed[Int(k)] = true }
                        for k in soft.range(r) {
                            let k32 = soft.classes[k]
                            precondition(k32 >= 0 && Int(k32) < c && isAllowed[Int(k32)], "row \(r): soft class \(k32) is not among its allowed classes")
                        }
                        for k in set { isAllowed[Int(k)] = false }
                    }
                } else {
                    let maximum = rowMax(row, c)
                    let sum = rowExpShifted(row, probs, c, shift: maximum)
                    rowScale(probs, c, 1 / sum)
                    losses[r] = Double(maximum + Foundation.log(sum) - row[t])
                }
                if let soft, case let m = soft.mix(ofRow: r), m > 0 {
                    // log Z − z_t was computed; the soft share replaces m·z_t by m·Σ w·z.
                    var expected: Double = 0
                    for k in soft.range(r) {
                        let k32 = soft.classes[k]
                        precondition(k32 >= 0 && Int(k32) < c, "row \(r): soft class \(k32) out of range for \(c) classes")
                        expected += Double(soft.weights[k]) * Double(row[Int(k32)])
                    }
                    losses[r] += Double(m) * (Double(row[t]) - expected)
                }
            }
        }
    }
    let counted = targets.filter { $0 >= 0 }.count
    let loss = counted > 0 ? Float(rowLosses.reduce(0, +) / Double(counted)) : 0
    return .result([], Storage([loss]), .crossEntropy(probabilities: probabilities, targets: targets, allowed: allowed, soft: soft, counted: counted), [logits])
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

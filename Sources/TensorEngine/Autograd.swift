/// Reverse-mode differentiation: every primitive is one `Op` case; `Gradients.swift` holds every rule.
/// Composites (gated GELU, L2 normalisation, attention, …) are built from primitives and need no rule.

/// The primitives. Payloads carry what the backward rule needs that is not an input or the output.
enum Op {
    // elementwise, broadcasting binary
    case add, sub, mul, div
    // elementwise unary; `affine` is x*scale + shift (all scalar arithmetic)
    case affine(scale: Float, shift: Float)
    case exp, log, sqrt, rsqrt, tanh, relu, geluTanh, geluExact, square
    // gelu_tanh(a) ⊙ b fused: one pass forward and backward over T5's widest activations
    case gatedGELU
    // linear algebra
    case matmul(MatmulPlan)
    case attention(AttentionPlan)
    case linear(LinearPlan)       // x·Wᵀ + b (then GELU) fused: FusedLinear.swift
    // reductions over one axis, viewed as [outer, n, inner]
    case sum(outer: Int, n: Int, inner: Int)
    case mean(outer: Int, n: Int, inner: Int)
    case max(outer: Int, n: Int, inner: Int, argmax: [Int32])
    // last-axis normalisations
    case softmax, logSoftmax
    case layerNorm(mean: [Float], rstd: [Float])
    case rmsNorm(rstd: [Float])
    // indexing and layout
    case reshape
    case permute([Int])
    case concat(axis: Int)
    case slice(axis: Int, start: Int)
    case indexSelect(axis: Int, indices: [Int32])
    case embedding(indices: [Int32], paddingIndex: Int32?)
    // losses (scalar outputs, mean reductions)
    case crossEntropy(probabilities: Storage, targets: [Int32], allowed: AllowedClasses?, soft: SoftTargets?, counted: Int)
    case bceWithLogits(targets: [Float])
}

/// One recorded application of a primitive.
struct Node {
    let op: Op
    let inputs: [Tensor]
}

extension Tensor {
    /// Wraps a kernel's output, recording the graph only when grad is on and some input requires it.
    static func result(_ shape: [Int], _ storage: Storage, _ op: @autoclosure () -> Op, _ inputs: [Tensor]) -> Tensor {
        if GradMode.isEnabled && inputs.contains(where: { $0.requiresGrad }) {
            return Tensor(shape: shape, storage: storage, node: Node(op: op(), inputs: inputs))
        }
        return Tensor(shape: shape, storage: storage, node: nil)
    }

    /// Accumulates d(self)/d(leaf) into every leaf's `grad`, or into `sink` when given (leaves untouched, so shards
    /// of one batch can run backward at once over shared parameters), seeded with `seed` (ones for a scalar loss).
    public func backward(seed: Tensor? = nil, into sink: GradientSink? = nil) {
        precondition(requiresGrad, "backward() on a tensor that does not require grad")
        if let seed { precondition(seed.shape == shape, "seed shape \(seed.shape) != output shape \(shape)") }
        let order = topologicalOrder()
        var pending: [ObjectIdentifier: Storage] = [:]
        pending[ObjectIdentifier(self)] = seed.map { Storage($0.scalars) } ?? {
            let ones = Storage(count: count); ones.pointer.initialize(repeating: 1, count: count); return ones
        }()
        for tensor in order.reversed() {
            guard let dOut = pending.removeValue(forKey: ObjectIdentifier(tensor)) else { continue }
            guard let node = tensor.node else {
                if let sink { sink.accumulate(dOut, for: tensor) } else { tensor.accumulateGrad(dOut) }
                continue
            }
            // A reshape's gradient is its output's, element for element: hand the buffer on instead of copying it.
            if case .reshape = node.op, let input = node.inputs.first, input.requiresGrad,
               pending[ObjectIdentifier(input)] == nil {
                pending[ObjectIdentifier(input)] = dOut
                continue
            }
            let gradients = InputGradients(inputs: node.inputs, pending: pending)
            Gradients.apply(node.op, inputs: node.inputs, output: tensor, dOut: UnsafePointer(dOut.pointer), into: gradients)
            pending = gradients.pending
        }
    }

    fileprivate func accumulateGrad(_ dOut: Storage) {
        if let grad {
            let g = grad.data
            for i in 0..<count { g[i] += dOut.pointer[i] }
        } else {
            grad = Tensor(shape: shape, storage: dOut, node: nil)
        }
    }

    /// Tensors that require grad and feed this one, each after all of its inputs.
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (tensor, expanded) = stack.popLast() {
            if expanded { order.append(tensor); continue }
            guard visited.insert(ObjectIdentifier(tensor)).inserted else { continue }
            stack.append((tensor, true))
            for input in tensor.node?.inputs ?? [] where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        return order
    }
}

/// Leaf gradients of one backward pass kept apart from `Tensor.grad`: each data-parallel shard fills its own sink
/// on its own thread, then the training thread adds the sinks into the parameters with `addGradients(_:into:)`.
public final class GradientSink {
    private var gradients: [ObjectIdentifier: Storage] = [:]

    public init() {}

    func accumulate(_ dOut: Storage, for leaf: Tensor) {
        let key = ObjectIdentifier(leaf)
        if let existing = gradients[key] {
            for i in 0..<dOut.count { existing.pointer[i] += dOut.pointer[i] }
        } else {
            gradients[key] = dOut
        }
    }

    /// The gradient collected for `leaf`, if the pass reached it.
    public func gradient(of leaf: Tensor) -> Tensor? {
        gradients[ObjectIdentifier(leaf)].map { Tensor(shape: leaf.shape, storage: $0, node: nil) }
    }
}

/// Adds every sink's gradients into the leaves' `grad`, in sink order (so a run is reproducible). The sinks are spent:
/// a leaf without a gradient adopts the first sink's buffer, and later sinks add into it.
public func addGradients(_ sinks: [GradientSink], into leaves: [Tensor]) {
    for sink in sinks {
        for leaf in leaves {
            if let gradient = sink.gradient(of: leaf) { leaf.accumulateGrad(gradient.storage) }
        }
    }
}

/// Hands rules the gradient buffer of each input that requires grad. `d[i]` is zeroed for rules that add into part
/// of it; `d.target(i)` leaves a new buffer unzeroed for rules that write all of it (see `GradientTarget`).
final class InputGradients {
    let inputs: [Tensor]
    var pending: [ObjectIdentifier: Storage]

    init(inputs: [Tensor], pending: [ObjectIdentifier: Storage]) {
        self.inputs = inputs
        self.pending = pending
    }

    /// The buffer for input `index`, zeroed if new, or nil when that input does not require grad.
    subscript(index: Int) -> UnsafeMutablePointer<Float>? { target(index, zeroed: true)?.pointer }

    /// The buffer for input `index` for a rule that writes every element of it, or nil when that input does not
    /// require grad. Zeroing the new buffers first cost 7% of a training step in memset and page faults.
    func target(_ index: Int) -> GradientTarget? { target(index, zeroed: false) }

    private func target(_ index: Int, zeroed: Bool) -> GradientTarget? {
        let input = inputs[index]
        guard input.requiresGrad else { return nil }
        let key = ObjectIdentifier(input)
        if let existing = pending[key] { return GradientTarget(pointer: existing.pointer, fresh: false) }
        // An input passed twice (x·x) gets a zeroed buffer: the rule's second write would otherwise add to garbage.
        let unzeroed = !zeroed && !inputs.indices.contains { $0 != index && inputs[$0] === input }
        let buffer = unzeroed ? Storage(count: input.count) : Storage(zeros: input.count)
        pending[key] = buffer
        return GradientTarget(pointer: buffer.pointer, fresh: unzeroed)
    }
}

/// An input's gradient buffer as a rule sees it. `fresh`: this rule is its first writer and the buffer is
/// uninitialised, so the rule must store every element (BLAS beta 0); otherwise it adds (beta 1).
struct GradientTarget {
    let pointer: UnsafeMutablePointer<Float>
    let fresh: Bool
    var beta: Float { fresh ? 0 : 1 }

    /// Stores or adds `value(i)` for every i in `range`: the two loops kept apart so each vectorises.
    @inline(__always)
    func write(_ range: Range<Int>, _ value: (Int) -> Float) {
        if fresh { for i in range { pointer[i] = value(i) } } else { for i in range { pointer[i] += value(i) } }
    }
}

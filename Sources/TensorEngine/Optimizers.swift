import Foundation

/// AdamW with decoupled weight decay, exactly as torch.optim.AdamW (decay first, then the Adam step
/// with bias correction). Parameters are updated in place; gradients are read from `Tensor.grad`.
public final class AdamW {
    public let parameters: [Tensor]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float
    /// Per-parameter weight decay (0 for the ones excluded from decay, such as norms and biases if wanted).
    public let weightDecays: [Float]
    public private(set) var stepCount = 0
    private let firstMoments: [Storage]
    private let secondMoments: [Storage]

    public init(parameters: [Tensor], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 0.01, noDecay: Set<ObjectIdentifier> = []) {
        precondition(parameters.allSatisfy { $0.requiresGrad }, "AdamW parameters must require grad")
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecays = parameters.map { noDecay.contains(ObjectIdentifier($0)) ? 0 : weightDecay }
        firstMoments = parameters.map { Storage(zeros: $0.count) }
        secondMoments = parameters.map { Storage(zeros: $0.count) }
    }

    public func zeroGrad() { for p in parameters { p.grad = nil } }

    /// The step count and both moments of every parameter (in `parameters` order), for checkpoints.
    public var state: (step: Int, first: [[Float]], second: [[Float]]) {
        (stepCount, firstMoments.map(\.array), secondMoments.map(\.array))
    }

    /// Continues exactly where `state` was taken (same parameters, same order).
    public func restore(step: Int, first: [[Float]], second: [[Float]]) throws {
        guard first.count == parameters.count, second.count == parameters.count,
              zip(parameters, zip(first, second)).allSatisfy({ $0.count == $1.0.count && $0.count == $1.1.count }) else {
            throw OptimizerStateError("optimizer state does not match the model's parameters (different configuration?)")
        }
        stepCount = step
        for (index, (m, v)) in zip(first, second).enumerated() {
            firstMoments[index].pointer.update(from: m, count: m.count)
            secondMoments[index].pointer.update(from: v, count: v.count)
        }
    }

    /// One update with the current learning rate. Parameters without a gradient are left alone.
    public func step() {
        stepCount += 1
        let correction1 = 1 - Foundation.pow(beta1, Float(stepCount))
        let correction2 = 1 - Foundation.pow(beta2, Float(stepCount))
        let stepSize = learningRate / correction1
        let sqrtCorrection2 = correction2.squareRoot()
        for (index, p) in parameters.enumerated() {
            guard let grad = p.grad else { continue }
            let w = p.data, g = grad.data, m = firstMoments[index].pointer, v = secondMoments[index].pointer
            let decay = 1 - learningRate * weightDecays[index]
            let (b1, b2, eps) = (beta1, beta2, eps)
            Parallelism.forEachChunk(p.count) { range in
                for i in range {
                    w[i] *= decay
                    m[i] = b1 * m[i] + (1 - b1) * g[i]
                    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                    w[i] -= stepSize * m[i] / (v[i].squareRoot() / sqrtCorrection2 + eps)
                }
            }
        }
    }
}

public struct OptimizerStateError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Scales all gradients so that their global L2 norm is at most `maxNorm` (torch's clip_grad_norm_,
/// including its 1e-6 guard). Returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters { if let g = p.grad { for i in 0..<g.count { total += Double(g.data[i] * g.data[i]) } } }
    let norm = Float(total.squareRoot())
    let coefficient = maxNorm / (norm + 1e-6)
    if coefficient < 1 {
        for p in parameters { if let g = p.grad { for i in 0..<g.count { g.data[i] *= coefficient } } }
    }
    return norm
}

/// Learning-rate schedules: linear warm-up, then constant, cosine decay to `minimum`, or T5's inverse square root.
public enum LearningRateSchedule: Sendable, Equatable, Codable {
    case constant(base: Float, warmup: Int)
    case cosine(base: Float, warmup: Int, total: Int, minimum: Float)
    case inverseSquareRoot(base: Float, warmup: Int)

    /// The rate for 0-based `step`.
    public func rate(at step: Int) -> Float {
        switch self {
        case .constant(let base, let warmup):
            return step < warmup ? base * Float(step + 1) / Float(warmup) : base
        case .cosine(let base, let warmup, let total, let minimum):
            if step < warmup { return base * Float(step + 1) / Float(warmup) }
            let progress = min(1, Float(step - warmup) / Float(max(1, total - warmup)))
            return minimum + (base - minimum) * 0.5 * (1 + Foundation.cos(.pi * progress))
        case .inverseSquareRoot(let base, let warmup):
            if step < warmup { return base * Float(step + 1) / Float(warmup) }
            return base * (Float(max(warmup, 1)) / Float(step + 1)).squareRoot()
        }
    }
}

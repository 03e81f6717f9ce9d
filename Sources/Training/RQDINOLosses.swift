import Foundation
import TensorEngine

// Shape legend: B images; 2 global crops and nL local crops per image, rows crop-major (all images' first global
// crop, then all second ones, …); K prototypes; M masked patches; D embedding width.

/// The loss terms of DINOv2 as its code computes them (dinov2/loss, ssl_meta_arch), which RQ-DINO keeps.
public enum DINOLosses {
    /// Teacher targets: softmax((logits − center)/τ) per row, a constant.
    public static func centeredSoftmax(_ logits: Tensor, center: [Float], temperature: Float) -> Tensor {
        withoutGrad {
            let k = logits.shape[1]
            precondition(center.count == k, "center has \(center.count) entries for \(k) prototypes")
            return ((logits.detached() - Tensor(shape: [1, k], scalars: center)) * (1 / temperature)).softmax()
        }
    }

    /// −mean over rows of Σ_k t·log softmax(s/τ).
    public static func crossEntropy(student: Tensor, teacher: Tensor, temperature: Float) -> Tensor {
        -((teacher * (student * (1 / temperature)).logSoftmax()).sum(axis: -1).mean())
    }

    /// DINOv2's DINO loss over crops: each local crop against both teacher globals, and each student global against
    /// the teacher's *other* global (the swap), weighted 2×; all divided by the number of pairs (2 + 2·nL).
    /// studentGlobal [2B, K], studentLocal [nL·B, K], teacherGlobal [2B, K] (targets, crop-major).
    public static func dino(studentGlobal: Tensor, studentLocal: Tensor?, teacherGlobal: Tensor, batch b: Int, localCrops: Int,
                            temperature: Float) -> Tensor {
        let pairs = Float(2 + max(2 * localCrops, 2))
        let swapped = concat([teacherGlobal.slice(axis: 0, start: b, end: 2 * b), teacherGlobal.slice(axis: 0, start: 0, end: b)], axis: 0)
        var loss = crossEntropy(student: studentGlobal, teacher: swapped, temperature: temperature) * (2 / pairs)
        if let studentLocal, localCrops > 0 {
            for crop in 0..<localCrops {
                let s = studentLocal.slice(axis: 0, start: crop * b, end: (crop + 1) * b)
                for g in 0..<2 {
                    let t = teacherGlobal.slice(axis: 0, start: g * b, end: (g + 1) * b)
                    loss = loss + crossEntropy(student: s, teacher: t, temperature: temperature) * (1 / pairs)
                }
            }
        }
        return loss
    }

    /// iBOT's masked-patch loss: −Σ over masked patches of w·Σ_k t·log softmax(s/τ) / images, where w = 1/(masked
    /// patches of that patch's image) and `images` counts every global crop (masked or not), as DINOv2 divides.
    public static func ibot(student: Tensor, teacher: Tensor, weights: [Float], images: Int, temperature: Float) -> Tensor {
        precondition(student.shape[0] == weights.count, "iBOT: \(student.shape[0]) rows, \(weights.count) weights")
        let perPatch = (teacher * (student * (1 / temperature)).logSoftmax()).sum(axis: -1)
        return -((perPatch * Tensor(shape: [weights.count], scalars: weights)).sum()) * (1 / Float(max(images, 1)))
    }

    /// KoLeo (Sablayrolles et al.), as DINOv2: rows L2-normalised (eps 1e-8), each row's nearest other row by inner
    /// product, −mean log(‖x − x_nn + 1e-8‖ + 1e-8): spreads the embeddings of a batch apart.
    public static func koleo(_ x: Tensor) -> Tensor {
        let n = x.shape[0]
        let normalized = x.l2Normalized(eps: 1e-8)
        let neighbours: [Int32] = withoutGrad {
            let dots = matmul(normalized.detached(), normalized.detached(), transposeB: true), p = dots.data
            return (0..<n).map { i in
                var best = -1, bestDot = -Float.infinity
                for j in 0..<n {
                    let v = i == j ? -1 : p[i * n + j]
                    if v > bestDot { bestDot = v; best = j }
                }
                return Int32(best)
            }
        }
        let distance = ((normalized - normalized.indexSelect(axis: 0, neighbours)) + 1e-8).square().sum(axis: -1).sqrt()
        return -((distance + 1e-8).log().mean())
    }
}

/// DINOv2's schedules: teacher temperature warm-up, cosine teacher momentum, warm-up then cosine learning rate.
public struct RQDINOSchedules: Sendable {
    public var totalSteps: Int
    public var teacherTemperatureStart: Float = 0.04
    public var teacherTemperature: Float = 0.07
    /// Share of training over which the teacher temperature rises (DINOv2: 30 of its 100 epochs).
    public var temperatureWarmup: Double = 0.3
    public var momentumStart: Float = 0.992
    public var momentumEnd: Float = 1.0

    public init(totalSteps: Int) { self.totalSteps = max(1, totalSteps) }

    public func teacherTemperature(at step: Int) -> Float {
        let warm = max(1, Int(Double(totalSteps) * temperatureWarmup))
        if step >= warm { return teacherTemperature }
        return teacherTemperatureStart + (teacherTemperature - teacherTemperatureStart) * Float(step) / Float(warm)
    }

    public func momentum(at step: Int) -> Float {
        let progress = Float(min(step, totalSteps)) / Float(totalSteps)
        return momentumEnd - (momentumEnd - momentumStart) * 0.5 * (1 + Foundation.cos(.pi * progress))
    }
}

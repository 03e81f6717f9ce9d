import Foundation
import Models
import TensorEngine

/// What tells a learning self-distillation from a collapsed one (issue 15): the spread of the teacher's outputs
/// across images, the entropies of both sides, the centre, the gradients and the schedules of one step.
/// Collapse to a constant shows as bottleneck cosines near 1 and a logit spread near 0 (centring then makes the
/// targets uniform, entropy ln K); collapse to one prototype as a low entropy of the batch's mean target.
public struct RQDINODiagnostics: Sendable {
    /// Mean cosine between different images' teacher CLS embeddings (first global crop) and bottleneck outputs.
    public var teacherBackboneCosine = 0.0, teacherBottleneckCosine = 0.0
    public var studentBackboneCosine = 0.0
    /// Teacher bottleneck: norm of the batch mean, root-mean-square distance of the rows from it, last bias's norm.
    public var bottleneckMeanNorm = 0.0, bottleneckDeviation = 0.0, bottleneckBiasNorm = 0.0
    /// Mean over prototypes of the standard deviation across images of the teacher's logits (cosines).
    public var teacherLogitSpread = 0.0
    /// Mean per-row entropy of the teacher's centred, sharpened targets; entropy of their batch mean.
    public var teacherEntropy = 0.0, teacherBatchEntropy = 0.0
    /// Mean per-row entropy of the student's softmax(s/τ_s) on the (unmasked) global crops.
    public var studentEntropy = 0.0
    public var centerNorm = 0.0
    /// Gradient norms before clipping: backbone, head MLP, head last layer (0 while frozen).
    public var backboneGradient = 0.0, headGradient = 0.0, lastLayerGradient = 0.0
    public var learningRate = 0.0, teacherTemperature = 0.0, momentum = 0.0

    public init() {}

    public var line: String {
        String(format: "diag: cos backbone t %.4f s %.4f bottleneck t %.4f (mean %.3g dev %.3g bias %.3g) | logit spread %.4f | H teacher %.3f batch %.3f student %.3f (ln K %.3f) "
               + "| centre %.3f | grad backbone %.3g head %.3g last %.3g | lr %.3g τt %.4f m %.5f",
               teacherBackboneCosine, studentBackboneCosine, teacherBottleneckCosine, bottleneckMeanNorm, bottleneckDeviation,
               bottleneckBiasNorm, teacherLogitSpread, teacherEntropy,
               teacherBatchEntropy, studentEntropy, prototypesLog, centerNorm, backboneGradient, headGradient, lastLayerGradient,
               learningRate, teacherTemperature, momentum)
    }
    var prototypesLog = 0.0

    /// Mean cosine between different rows of x [n, d].
    static func meanOffDiagonalCosine(_ x: [Float], rows n: Int) -> Double {
        guard n > 1 else { return 1 }
        let d = x.count / n
        var unit = x
        for i in 0..<n {
            var s: Float = 0
            for j in 0..<d { s += x[i * d + j] * x[i * d + j] }
            let inv = 1 / max(s.squareRoot(), 1e-12)
            for j in 0..<d { unit[i * d + j] *= inv }
        }
        var sum = 0.0
        for i in 0..<n { for k in 0..<n where k != i {
            var dot: Float = 0
            for j in 0..<d { dot += unit[i * d + j] * unit[k * d + j] }
            sum += Double(dot)
        } }
        return sum / Double(n * (n - 1))
    }

    /// Mean entropy (nats) of the rows of probabilities p [n, k], and the entropy of their mean row.
    static func entropies(_ p: [Float], rows n: Int) -> (rows: Double, mean: Double) {
        let k = p.count / n
        var rows = 0.0, mean = [Double](repeating: 0, count: k)
        for i in 0..<n { for j in 0..<k {
            let v = Double(p[i * k + j])
            if v > 0 { rows -= v * Foundation.log(v) }
            mean[j] += v / Double(n)
        } }
        return (rows / Double(n), -mean.reduce(0) { $1 > 0 ? $0 + $1 * Foundation.log($1) : $0 })
    }

    /// Mean over columns of the standard deviation over rows of x [n, k].
    static func columnSpread(_ x: [Float], rows n: Int) -> Double {
        let k = x.count / n
        var total = 0.0
        for j in 0..<k {
            var s = 0.0, s2 = 0.0
            for i in 0..<n { let v = Double(x[i * k + j]); s += v; s2 += v * v }
            let m = s / Double(n)
            total += max(s2 / Double(n) - m * m, 0).squareRoot()
        }
        return total / Double(k)
    }
}

extension RQDINOModel {
    /// The output statistics of `batch` (no graph, no update): teacher on the first global crops, student on the
    /// same crops unmasked (through the quantizer when there is one).
    public func diagnose(_ batch: RQDINOBatch, teacherTemperature: Float) -> RQDINODiagnostics {
        let b = batch.images, g = config.globalSize
        let first = Array(batch.global.prefix(b * 3 * g * g))
        return withoutGrad {
            var d = RQDINODiagnostics()
            let teacherCLS = Self.embed(teacher, pixels: first, images: b, size: g)
            let h = teacherHead.bottleneck(teacherCLS)
            let logits = teacherHead.logits(bottleneck: h)
            d.teacherBackboneCosine = RQDINODiagnostics.meanOffDiagonalCosine(teacherCLS.scalars, rows: b)
            d.teacherBottleneckCosine = RQDINODiagnostics.meanOffDiagonalCosine(h.scalars, rows: b)
            d.teacherLogitSpread = RQDINODiagnostics.columnSpread(logits.scalars, rows: b)
            let mean = h.mean(axis: 0)
            d.bottleneckMeanNorm = Double(mean.square().sum().item.squareRoot())
            d.bottleneckDeviation = Double(((h - mean.reshaped([1, mean.count])).square().sum().item / Float(b)).squareRoot())
            d.bottleneckBiasNorm = Double(teacherHead.layers.last!.bias.square().sum().item.squareRoot())
            let targets = DINOLosses.centeredSoftmax(logits, center: dinoCenter, temperature: teacherTemperature)
            (d.teacherEntropy, d.teacherBatchEntropy) = RQDINODiagnostics.entropies(targets.scalars, rows: b)
            var studentCLS = Self.embed(student, pixels: first, images: b, size: g)
            d.studentBackboneCosine = RQDINODiagnostics.meanOffDiagonalCosine(studentCLS.scalars, rows: b)
            if let quantizer, quantizer.isInitialized { studentCLS = quantizer(studentCLS).quantized }
            let studentP = (studentHead(studentCLS) * (1 / config.studentTemperature)).softmax()
            d.studentEntropy = RQDINODiagnostics.entropies(studentP.scalars, rows: b).rows
            d.centerNorm = Double(dinoCenter.reduce(0) { $0 + $1 * $1 }.squareRoot())
            d.prototypesLog = Foundation.log(Double(config.prototypes))
            return d
        }
    }
}

/// ‖∇‖₂ over the parameters that have a gradient.
func gradientNorm(_ parameters: [Tensor]) -> Double {
    var total = 0.0
    for p in parameters { if let g = p.grad { for i in 0..<g.count { total += Double(g.data[i] * g.data[i]) } } }
    return total.squareRoot()
}

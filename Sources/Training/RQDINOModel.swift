import Foundation
import Models
import Quantization
import TensorEngine

/// Everything that fixes an RQ-DINO model's shapes and losses; written beside the encoder.
public struct RQDINOConfig: Codable, Sendable, Equatable {
    public var vit: ViTConfig
    public var headHidden = 512
    public var headBottleneck = 64
    public var prototypes = 1024
    public var headLayers = 3
    /// Centre the head's bottleneck over the batch before its L2 normalisation (not DINOv2; on in the from-scratch
    /// CPU default). A randomly initialised ViT gives every image nearly the same CLS embedding, and the narrow head
    /// keeps that shared direction: the cosines with the prototypes then barely differ between images, the centred
    /// teacher targets are uniform and the DINO loss sits at ln K (issue 15). Removing the batch mean leaves only what
    /// tells images apart. Only the training losses use the head; codes and probes read the backbone.
    public var headBatchCentring = false
    /// nil: plain DINOv2 (the post-hoc baseline of Table 3c trains this way and quantizes afterwards).
    public var quantizer: EMAResidualQuantizer.Options? = .init()
    public var commitmentWeight: Float = 0.01      // α₃ (paper 4.1)
    public var ibotWeight: Float = 1.0             // α₁ (DINOv2)
    public var koleoWeight: Float = 0.1            // α₂ (DINOv2)
    public var studentTemperature: Float = 0.1
    public var centerMomentum: Float = 0.9
    public var globalSize: Int
    public var localSize: Int
    public var localCrops = 4                      // the paper's reduction from DINOv2's 8
    /// iBOT: share of global crops that are masked, and the range of the masked share of their patches.
    public var maskProbability: Float = 0.5
    public var maskRatioMin: Float = 0.1
    public var maskRatioMax: Float = 0.5

    public init(vit: ViTConfig, globalSize: Int, localSize: Int) {
        self.vit = vit; self.globalSize = globalSize; self.localSize = localSize
    }

    public static let cpuDefault = RQDINOConfig(vit: .cpuDefault, globalSize: 56, localSize: 24)
}

extension RQDINOConfig {
    /// Keys missing from older encoder files take their defaults (e.g. `headBatchCentring`, added later).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(vit: try c.decode(ViTConfig.self, forKey: .vit), globalSize: try c.decode(Int.self, forKey: .globalSize),
                  localSize: try c.decode(Int.self, forKey: .localSize))
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? fallback }
        headHidden = try value(.headHidden, headHidden); headBottleneck = try value(.headBottleneck, headBottleneck)
        prototypes = try value(.prototypes, prototypes); headLayers = try value(.headLayers, headLayers)
        headBatchCentring = try value(.headBatchCentring, headBatchCentring)
        quantizer = try c.decodeIfPresent(EMAResidualQuantizer.Options.self, forKey: .quantizer)   // absent: no quantizer
        commitmentWeight = try value(.commitmentWeight, commitmentWeight); ibotWeight = try value(.ibotWeight, ibotWeight)
        koleoWeight = try value(.koleoWeight, koleoWeight); studentTemperature = try value(.studentTemperature, studentTemperature)
        centerMomentum = try value(.centerMomentum, centerMomentum); localCrops = try value(.localCrops, localCrops)
        maskProbability = try value(.maskProbability, maskProbability)
        maskRatioMin = try value(.maskRatioMin, maskRatioMin); maskRatioMax = try value(.maskRatioMax, maskRatioMax)
    }
}

/// One batch of crops, rows crop-major: `global` holds 2·B images of globalSize², `local` nL·B of localSize²
/// (planar normalised floats), `masks` one flag per patch of every global crop (student side only).
public struct RQDINOBatch {
    public var images: Int
    public var global: [Float]
    public var local: [Float]
    public var masks: [Bool]
    public init(images: Int, global: [Float], local: [Float], masks: [Bool]) {
        self.images = images; self.global = global; self.local = local; self.masks = masks
    }
}

/// The named loss terms of one step (eq. 5), for the progress line and the log.
public struct RQDINOTerms: Sendable {
    public var total: Double = 0, dino: Double = 0, ibot: Double = 0, koleo: Double = 0, commitment: Double = 0
    public init() {}
    public static func + (a: Self, b: Self) -> Self {
        var r = Self()
        r.total = a.total + b.total; r.dino = a.dino + b.dino; r.ibot = a.ibot + b.ibot; r.koleo = a.koleo + b.koleo
        r.commitment = a.commitment + b.commitment
        return r
    }
    public func scaled(_ s: Double) -> Self {
        var r = self
        r.total *= s; r.dino *= s; r.ibot *= s; r.koleo *= s; r.commitment *= s
        return r
    }
}

/// What a forward pass leaves for the updates that follow the optimiser step (centres, codebooks).
public struct RQDINOStatistics {
    public var teacherCLSMean: [Float]       // mean teacher logits over the global crops
    public var teacherPatchMean: [Float]?    // mean teacher logits over masked patches (nil: none masked)
    /// The codes (n × L) and per-level residuals the codebooks' EMA step needs; plain values, no graph.
    public var quantized: (codes: [Int32], residuals: [[Float]])?
}

/// Student (ViT + head, quantizer on its CLS embedding) and EMA teacher (ViT + head, never quantized).
public final class RQDINOModel {
    public let config: RQDINOConfig
    public let student: VisionTransformer
    public let studentHead: DINOHead
    public let teacher: VisionTransformer
    public let teacherHead: DINOHead
    public let quantizer: EMAResidualQuantizer?
    public var dinoCenter: [Float]
    public var ibotCenter: [Float]

    public init(config: RQDINOConfig, seed: UInt64, initialBackbone: VisionTransformer? = nil) {
        self.config = config
        student = initialBackbone ?? VisionTransformer(config: config.vit, seed: seed)
        studentHead = DINOHead(inputDim: config.vit.hiddenSize, hiddenDim: config.headHidden, bottleneckDim: config.headBottleneck,
                               prototypes: config.prototypes, layerCount: config.headLayers, seed: seed &+ 1)
        teacher = VisionTransformer(config: config.vit, seed: seed)
        teacherHead = DINOHead(inputDim: config.vit.hiddenSize, hiddenDim: config.headHidden, bottleneckDim: config.headBottleneck,
                               prototypes: config.prototypes, layerCount: config.headLayers, seed: seed &+ 1)
        studentHead.batchCentring = config.headBatchCentring
        teacherHead.batchCentring = config.headBatchCentring
        quantizer = config.quantizer.map { EMAResidualQuantizer(options: $0, dimension: config.vit.hiddenSize) }
        dinoCenter = [Float](repeating: 0, count: config.prototypes)
        ibotCenter = [Float](repeating: 0, count: config.prototypes)
        copyStudentToTeacher()
    }

    /// The trained parameters, DINOv2-style names.
    public var studentParameters: [(String, Tensor)] {
        student.namedParameters.map { ("student.backbone.\($0.0)", $0.1) } + studentHead.namedParameters.map { ("student.dino_head.\($0.0)", $0.1) }
    }
    public var teacherParameters: [(String, Tensor)] {
        teacher.namedParameters.map { ("teacher.backbone.\($0.0)", $0.1) } + teacherHead.namedParameters.map { ("teacher.dino_head.\($0.0)", $0.1) }
    }

    public func copyStudentToTeacher() {
        for ((_, s), (_, t)) in zip(studentParameters, teacherParameters) { t.data.update(from: s.data, count: s.count) }
    }

    /// teacher ← m·teacher + (1 − m)·student.
    public func updateTeacher(momentum m: Float) {
        for ((_, s), (_, t)) in zip(studentParameters, teacherParameters) {
            let ps = s.data, pt = t.data
            for i in 0..<s.count { pt[i] = m * pt[i] + (1 - m) * ps[i] }
        }
    }

    public func updateCenters(_ statistics: [RQDINOStatistics]) {
        func blend(_ center: inout [Float], _ means: [[Float]]) {
            guard !means.isEmpty else { return }
            let m = config.centerMomentum
            for k in 0..<center.count {
                let mean = means.reduce(0) { $0 + $1[k] } / Float(means.count)
                center[k] = center[k] * m + mean * (1 - m)
            }
        }
        blend(&dinoCenter, statistics.map(\.teacherCLSMean))
        blend(&ibotCenter, statistics.compactMap(\.teacherPatchMean))
    }

    /// Eq. 5 for one batch: L_(RQ-)DINO + α₁·L_iBOT + α₂·L_KoLeo + α₃·L_commit, with its terms and the statistics for
    /// the updates after the step. The quantizer must be initialised first (see `initializeQuantizer`).
    public func loss(_ batch: RQDINOBatch, teacherTemperature: Float) -> (loss: Tensor, terms: RQDINOTerms, statistics: RQDINOStatistics) {
        let b = batch.images, g = config.globalSize, l = config.localSize, nl = config.localCrops
        let patches = (g / config.vit.patchSize) * (g / config.vit.patchSize)
        let maskedRows = batch.masks.enumerated().filter { $0.element }.map { Int32($0.offset) }
        // The only tokens the losses read: the global crops' CLS rows, then their masked patches in mask order.
        let tokens = 1 + patches, m = maskedRows.count
        let globalRows = VisionTransformer.clsRows(batch: 2 * b, tokens: tokens)
            + maskedRows.map { Int32((Int($0) / patches) * tokens + 1 + Int($0) % patches) }

        // Teacher: both global crops, unmasked, no graph.
        let (teacherCLS, teacherPatches, clsMean, patchMean): (Tensor, Tensor?, [Float], [Float]?) = withoutGrad {
            let picked = teacher(pixels: batch.global, batch: 2 * b, height: g, width: g, rows: globalRows)
            let logits = teacherHead(picked.slice(axis: 0, start: 0, end: 2 * b))
            let cls = DINOLosses.centeredSoftmax(logits, center: dinoCenter, temperature: teacherTemperature)
            var patchTargets: Tensor? = nil, patchMean: [Float]? = nil
            if !maskedRows.isEmpty {
                let patchLogits = teacherHead(picked.slice(axis: 0, start: 2 * b, end: 2 * b + m))
                patchTargets = DINOLosses.centeredSoftmax(patchLogits, center: ibotCenter, temperature: teacherTemperature)
                patchMean = patchLogits.mean(axis: 0).scalars
            }
            return (cls, patchTargets, logits.mean(axis: 0).scalars, patchMean)
        }

        // Student: masked global crops and the local crops; the CLS embeddings are quantized before the head.
        let globalTokens = student(pixels: batch.global, batch: 2 * b, height: g, width: g, masked: batch.masks, rows: globalRows)
        let globalCLS = globalTokens.slice(axis: 0, start: 0, end: 2 * b)
        var cls = globalCLS
        if nl > 0 {
            let localTokens = 1 + (l / config.vit.patchSize) * (l / config.vit.patchSize)
            let localCLS = student(pixels: batch.local, batch: nl * b, height: l, width: l,
                                   rows: VisionTransformer.clsRows(batch: nl * b, tokens: localTokens))
            cls = concat([globalCLS, localCLS], axis: 0)
        }
        var terms = RQDINOTerms()
        var quantizedOutput: (codes: [Int32], residuals: [[Float]])? = nil
        var headInput = cls
        var total: Tensor
        if let quantizer {
            let q = quantizer(cls)
            quantizedOutput = (q.codes, q.residuals)
            headInput = q.quantized
            total = q.commitment * config.commitmentWeight
            terms.commitment = Double(q.commitment.item)
        } else {
            total = Tensor.scalar(0)
        }
        // global and local crops through the head separately: batch centring (if on) then uses each one's own mean
        var logits = studentHead(headInput.slice(axis: 0, start: 0, end: 2 * b))
        if nl > 0 { logits = concat([logits, studentHead(headInput.slice(axis: 0, start: 2 * b, end: (2 + nl) * b))], axis: 0) }
        let dino = DINOLosses.dino(studentGlobal: logits.slice(axis: 0, start: 0, end: 2 * b),
                                   studentLocal: nl > 0 ? logits.slice(axis: 0, start: 2 * b, end: (2 + nl) * b) : nil,
                                   teacherGlobal: teacherCLS, batch: b, localCrops: nl, temperature: config.studentTemperature)
        total = total + dino
        terms.dino = Double(dino.item)
        if let teacherPatches {
            var perImage = [Int](repeating: 0, count: 2 * b)
            for row in maskedRows { perImage[Int(row) / patches] += 1 }
            let weights = maskedRows.map { 1 / Float(perImage[Int($0) / patches]) }
            let ibot = DINOLosses.ibot(student: studentHead(globalTokens.slice(axis: 0, start: 2 * b, end: 2 * b + m)), teacher: teacherPatches,
                                       weights: weights, images: 2 * b, temperature: config.studentTemperature)
            total = total + ibot * config.ibotWeight
            terms.ibot = Double(ibot.item)
        }
        if config.koleoWeight > 0 && b > 1 {
            let koleo = DINOLosses.koleo(globalCLS.slice(axis: 0, start: 0, end: b)) + DINOLosses.koleo(globalCLS.slice(axis: 0, start: b, end: 2 * b))
            total = total + koleo * config.koleoWeight
            terms.koleo = Double(koleo.item)
        }
        terms.total = Double(total.item)
        return (total, terms, RQDINOStatistics(teacherCLSMean: clsMean, teacherPatchMean: patchMean, quantized: quantizedOutput))
    }

    /// Seeds the codebooks from the student's CLS embeddings of a first batch (global and local crops).
    public func initializeQuantizer(_ batch: RQDINOBatch, using rng: inout SeededGenerator) {
        guard let quantizer, !quantizer.isInitialized else { return }
        let b = batch.images
        let z: Tensor = withoutGrad {
            var rows = Self.embed(student, pixels: batch.global, images: 2 * b, size: config.globalSize)
            if config.localCrops > 0 {
                rows = concat([rows, Self.embed(student, pixels: batch.local, images: config.localCrops * b, size: config.localSize)], axis: 0)
            }
            return rows
        }
        quantizer.initialize(from: z, using: &rng)
    }

    /// The student's CLS embedding of whole images (size × size, normalised planar floats), [n, D]: what codes and
    /// probes are computed from.
    public static func embed(_ encoder: VisionTransformer, pixels: [Float], images: Int, size: Int) -> Tensor {
        let tokens = 1 + (size / encoder.config.patchSize) * (size / encoder.config.patchSize)
        return withoutGrad { encoder(pixels: pixels, batch: images, height: size, width: size, rows: VisionTransformer.clsRows(batch: images, tokens: tokens)) }
    }
}

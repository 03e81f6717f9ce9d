/// Which of two recipes an RQ-DINO run follows: DINOv2's own (the paper: a pretrained ViT, `--init`) or the one that
/// makes self-distillation learn from a random initialisation at CPU scale (issue 15).
///
/// From scratch with DINOv2's settings the DINO loss stays at ln K: a random ViT gives every image nearly the same
/// CLS embedding (cosine ≈ 0.98 between images) and the narrow head keeps that shared direction (bottleneck cosine
/// 0.92–0.98 all run), so the teacher's cosines with the prototypes differ by ≈ 0.02 between images; after centring
/// the targets are uniform, and matching uniform targets pulls the student to the same flat output (measured with
/// `rqdino --diagnostics`). The changes, each needed in the short runs:
/// - the head's bottleneck is centred over the batch (`RQDINOConfig.headBatchCentring`): the logit spread across
///   images rises from ≈ 0.02 to ≈ 0.1 and the targets stop being uniform;
/// - the teacher temperature stays at 0.04 (DINO's own ViT-S setting; DINOv2 warms up to 0.07): at 0.07 the
///   targets of a young teacher flatten again and the loss returns to ln K;
/// - the head's last layer is not frozen: DINOv2 freezes it for 1 of its 100 epochs, here 1 epoch is a quarter or a
///   tenth of the run.
/// Both recipes use DINOv2's teacher momentum 0.992 → 1: the CLI's former 0.9995 (DINO's advice for 100-epoch
/// ImageNet runs) left the teacher at ≈ 85% of its random initialisation after the 624 steps of 10,000 images × 4
/// epochs (Π m_t ≈ 0.85), which alone pinned the loss at ln K.
public enum RQDINORecipe: String, Sendable, CaseIterable {
    case dinov2
    case fromScratch = "from-scratch"

    public func apply(to config: inout RQDINOConfig, _ options: inout RQDINOOptions) {
        options.momentumStart = 0.992
        options.teacherTemperatureStart = 0.04
        switch self {
        case .dinov2:
            config.headBatchCentring = false
            options.teacherTemperature = 0.07
            options.freezeLastLayerEpochs = 1
        case .fromScratch:
            config.headBatchCentring = true
            options.teacherTemperature = 0.04
            options.freezeLastLayerEpochs = 0
        }
    }
}

extension RQDINOSchedules {
    /// Π_t m_t over the run: the share of the teacher's initial weights still in it at the end (the EMA horizon).
    public var initialTeacherShare: Double {
        (0..<totalSteps).reduce(1.0) { $0 * Double(momentum(at: $1)) }
    }
}

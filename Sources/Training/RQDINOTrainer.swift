import Foundation
import Images
import Models
import Quantization
import SafeTensors
import TensorEngine

/// Optimisation settings of an RQ-DINO run (DINOv2's recipe, sized for a CPU).
public struct RQDINOOptions: Sendable {
    public var epochs = 10
    public var batchSize = 64
    public var learningRate: Float = 5e-4
    public var minimumLearningRate: Float = 1e-6
    /// Share of the steps spent in linear learning-rate warm-up.
    public var warmup: Double = 0.1
    public var weightDecay: Float = 0.04
    public var clip: Float = 3.0
    public var momentumStart: Float = 0.992
    /// Teacher temperature: linear from `teacherTemperatureStart` to `teacherTemperature` over the first
    /// `temperatureWarmup` share of the steps.
    public var teacherTemperatureStart: Float = 0.04
    public var teacherTemperature: Float = 0.07
    public var temperatureWarmup: Double = 0.3
    /// DINOv2 keeps the head's last layer fixed during the first epoch(s): it helps the head leave the uniform start.
    public var freezeLastLayerEpochs = 1
    public var seed: UInt64 = 0
    public var threads = 1
    /// Every this many steps, measure `RQDINODiagnostics` on the step's batch and add them to the progress (0: never).
    public var diagnosticsEvery = 0
    public init() {}
}

/// Trains RQ-DINO on decoded images with the shared `TrainingLoop` (an epoch per loop epoch, atomic checkpoints
/// with the optimiser, a stop request between epochs). The teacher, the codebooks and the centres are not optimiser
/// parameters: they go into `checkpoint-extras-<epoch>.safetensors` beside the checkpoint.
public final class RQDINOTrainer {
    public let model: RQDINOModel
    public let images: [RGBImage]
    public let options: RQDINOOptions
    public let augmentation: MultiCropAugmentation
    let optimizer: AdamW
    let schedules: RQDINOSchedules
    public private(set) var step = 0
    /// The latest measured diagnostics (see `RQDINOOptions.diagnosticsEvery`).
    public private(set) var diagnostics: RQDINODiagnostics?
    public var stepsPerEpoch: Int { max(1, images.count / options.batchSize) }

    public init(model: RQDINOModel, images: [RGBImage], options: RQDINOOptions) {
        precondition(images.count >= 2, "RQ-DINO needs at least two images")
        self.model = model
        self.images = images
        var options = options
        options.batchSize = min(options.batchSize, images.count)
        self.options = options
        let c = model.config
        augmentation = MultiCropAugmentation(globalSize: c.globalSize, localSize: c.localSize, localCrops: c.localCrops)
        // DINOv2 decays neither biases, norms, LayerScale nor the tokens and position table.
        let noDecay = Set(model.studentParameters.filter { $0.1.rank <= 1 || $0.0.contains("token") || $0.0.contains("position") }.map { ObjectIdentifier($0.1) })
        optimizer = AdamW(parameters: model.studentParameters.map(\.1), learningRate: options.learningRate, beta1: 0.9, beta2: 0.999,
                          weightDecay: options.weightDecay, noDecay: noDecay)
        var s = RQDINOSchedules(totalSteps: options.epochs * max(1, images.count / options.batchSize))
        s.momentumStart = options.momentumStart
        s.teacherTemperatureStart = options.teacherTemperatureStart
        s.teacherTemperature = options.teacherTemperature
        s.temperatureWarmup = options.temperatureWarmup
        schedules = s
    }

    func learningRate(at step: Int) -> Float {
        let total = schedules.totalSteps, warm = max(1, Int(Double(total) * options.warmup))
        return LearningRateSchedule.cosine(base: options.learningRate, warmup: warm, total: total, minimum: options.minimumLearningRate).rate(at: step)
    }

    /// A stream per (purpose, epoch, image): crops and masks do not depend on the thread count or on resuming.
    func generator(_ purpose: UInt64, _ a: Int, _ b: Int) -> SeededGenerator {
        SeededGenerator(seed: options.seed &* 0x9E37_79B9_7F4A_7C15 ^ purpose &* 0xC2B2_AE3D_27D4_EB4F ^ UInt64(a) << 32 ^ UInt64(b))
    }

    /// The crops and iBOT masks of images `indices` in epoch `epoch`, crop-major.
    public func batch(_ indices: [Int], epoch: Int) -> RQDINOBatch {
        let c = model.config, n = indices.count
        let patches = (c.globalSize / c.vit.patchSize) * (c.globalSize / c.vit.patchSize)
        var globals = [[Float]](repeating: [], count: 2 * n), locals = [[Float]](repeating: [], count: c.localCrops * n)
        var masks = [Bool](repeating: false, count: 2 * n * patches)
        for (j, index) in indices.enumerated() {
            var rng = generator(1, epoch, index)
            let crops = augmentation.crops(of: images[index], using: &rng)
            for g in 0..<2 {
                globals[g * n + j] = crops.global[g]
                if rng.uniform() < c.maskProbability {
                    let count = max(1, Int((rng.uniform(c.maskRatioMin, c.maskRatioMax) * Float(patches)).rounded()))
                    for p in rng.permutation(patches).prefix(count) { masks[(g * n + j) * patches + p] = true }
                }
            }
            for l in 0..<c.localCrops { locals[l * n + j] = crops.local[l] }
        }
        return RQDINOBatch(images: n, global: globals.flatMap { $0 }, local: locals.flatMap { $0 }, masks: masks)
    }

    /// One optimiser step on images `indices`: shards forward/backward at once, then the AdamW step, the teacher's
    /// EMA, the centres and the codebooks. Returns the batch's loss terms.
    public func trainStep(_ indices: [Int], epoch: Int) -> RQDINOTerms {
        let shards = max(1, min(options.threads, indices.count / 2))
        let parts = (0..<shards).map { s in Array(indices[(s * indices.count / shards)..<((s + 1) * indices.count / shards)]) }
        if let quantizer = model.quantizer, !quantizer.isInitialized {
            var rng = generator(3, epoch, step)
            model.initializeQuantizer(batch(indices, epoch: epoch), using: &rng)
        }
        let temperature = schedules.teacherTemperature(at: step)
        let diagnose = options.diagnosticsEvery > 0 && step % options.diagnosticsEvery == 0
        var measured = diagnose ? model.diagnose(batch(indices, epoch: epoch), teacherTemperature: temperature) : nil
        let results = UnsafeMutableBufferPointer<(RQDINOTerms, RQDINOStatistics)?>.allocate(capacity: shards)
        results.initialize(repeating: nil)
        defer { _ = results.deinitialize(); results.deallocate() }   // deinitialize: the slots own their values
        _ = shardedGradients(shards: shards, parameters: optimizer.parameters) { s in
            let (loss, terms, statistics) = model.loss(batch(parts[s], epoch: epoch), teacherTemperature: temperature)
            let share = Double(parts[s].count) / Double(indices.count)
            results[s] = (terms.scaled(share), statistics)
            return loss * Float(share)
        }
        let collected = results.compactMap { $0 }
        if epoch <= options.freezeLastLayerEpochs { model.studentHead.lastLayer.grad = nil }   // AdamW skips it
        if measured != nil {
            measured!.backboneGradient = gradientNorm(model.student.namedParameters.map(\.1))
            measured!.headGradient = gradientNorm(model.studentHead.layers.flatMap { [$0.weight, $0.bias] })
            measured!.lastLayerGradient = gradientNorm([model.studentHead.lastLayer])
            measured!.learningRate = Double(learningRate(at: step))
            measured!.teacherTemperature = Double(temperature)
            measured!.momentum = Double(schedules.momentum(at: step))
            diagnostics = measured
        }
        clipGradNorm(optimizer.parameters, maxNorm: options.clip)
        optimizer.learningRate = learningRate(at: step)
        optimizer.step()
        model.updateTeacher(momentum: schedules.momentum(at: step))
        model.updateCenters(collected.map(\.1))
        if let quantizer = model.quantizer {
            let outputs = collected.compactMap(\.1.quantized)
            let codes = outputs.flatMap(\.codes)
            let residuals = (0..<quantizer.options.levels).map { level in outputs.flatMap { $0.residuals[level] } }
            var rng = generator(4, epoch, step)
            quantizer.update(codes: codes, residuals: residuals, using: &rng)
        }
        step += 1
        return collected.map(\.0).reduce(RQDINOTerms(), +)
    }

    /// Trains the remaining epochs; `progress` gets a line about every `every` seconds and one per epoch. True when
    /// every epoch is done, false when `shouldStop` ended the run early (`resume` continues it).
    @discardableResult
    public func train(checkpoint: URL, resume: Bool, shouldStop: @escaping () -> Bool, log: TrainingLog?,
                      progress: @escaping (String) -> Void) throws -> Bool {
        let loop = TrainingLoop(parameters: model.studentParameters, optimizer: optimizer,
                                options: .init(epochs: options.epochs, patience: options.epochs + 1, checkpoint: checkpoint))
        if resume {
            let saved = try loop.resume(from: checkpoint)
            guard let epoch = saved["extras_epoch"].flatMap(Int.init), let savedStep = saved["step"].flatMap(Int.init) else {
                throw CheckpointError("\(checkpoint.path): not an RQ-DINO checkpoint")
            }
            try loadExtras(Self.extrasURL(checkpoint, epoch: epoch))
            step = savedStep
        }
        let started = Date(), startStep = step
        let totalSteps = schedules.totalSteps
        var lastTerms = RQDINOTerms()
        try loop.run(trainEpoch: { epoch in
            var order = generator(2, epoch, 0)
            let permutation = order.permutation(images.count)
            var sum = RQDINOTerms(), lastLine = Date.distantPast
            for s in 0..<stepsPerEpoch {
                let indices = Array(permutation[(s * options.batchSize)..<((s + 1) * options.batchSize)])
                let terms = trainStep(indices, epoch: epoch)
                sum = sum + terms
                if options.diagnosticsEvery > 0, (step - 1) % options.diagnosticsEvery == 0, let d = diagnostics {
                    progress(String(format: "step %d loss %.4f (dino %.4f ibot %.4f koleo %.4f) ", step, terms.total, terms.dino, terms.ibot, terms.koleo) + d.line)
                }
                if Date().timeIntervalSince(lastLine) >= 10 || s == stepsPerEpoch - 1 {
                    lastLine = Date()
                    let elapsed = Date().timeIntervalSince(started), done = step - startStep
                    let rate = Double(done * options.batchSize) / max(elapsed, 1e-9)
                    let eta = Double(totalSteps - step) * Double(options.batchSize) / max(rate, 1e-9)
                    progress(String(format: "epoch %d step %d/%d loss %.4f (dino %.4f ibot %.4f koleo %.4f commit %.4f) %.1f images/s ETA %@",
                                    epoch, step, totalSteps, terms.total, terms.dino, terms.ibot, terms.koleo, terms.commitment, rate,
                                    Self.duration(eta)))
                }
            }
            lastTerms = sum.scaled(1 / Double(stepsPerEpoch))
            return (lastTerms.total, stepsPerEpoch * options.batchSize)
        }, validate: {
            // Self-supervised: no validation signal; the latest epoch is always kept.
            (Double(step), ["dino": lastTerms.dino, "ibot": lastTerms.ibot, "koleo": lastTerms.koleo, "commitment": lastTerms.commitment])
        }, trainerState: {
            let epoch = loop.state.completedEpochs
            try? self.saveExtras(Self.extrasURL(checkpoint, epoch: epoch))
            return ["extras_epoch": "\(epoch)", "step": "\(self.step)"]
        }, shouldStop: shouldStop, progress: { record in
            log?.append(record)
            // the checkpoint naming this epoch's extras is written: older extras are no longer needed
            if record.epoch > 1 { try? FileManager.default.removeItem(at: Self.extrasURL(checkpoint, epoch: record.epoch - 1)) }
        })
        return loop.state.finished
    }

    static func extrasURL(_ checkpoint: URL, epoch: Int) -> URL {
        checkpoint.deletingLastPathComponent().appendingPathComponent("checkpoint-extras-\(epoch).safetensors")
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }

    func saveExtras(_ url: URL) throws {
        var file = SafeTensors()
        for (name, tensor) in model.teacherParameters { file.add(name, tensor) }
        file.add("dino_center", shape: [model.dinoCenter.count], floats: model.dinoCenter)
        file.add("ibot_center", shape: [model.ibotCenter.count], floats: model.ibotCenter)
        for (name, shape, values) in model.quantizer?.state() ?? [] { file.add(name, shape: shape, floats: values) }
        try file.write(to: url)
    }

    func loadExtras(_ url: URL) throws {
        let file = try SafeTensors.read(contentsOf: url)
        for (name, tensor) in model.teacherParameters {
            let values = try file.floats(name)
            guard values.count == tensor.count else { throw CheckpointError("\(url.path): \(name) does not fit the model") }
            tensor.data.update(from: values, count: values.count)
        }
        model.dinoCenter = try file.floats("dino_center")
        model.ibotCenter = try file.floats("ibot_center")
        let names = Set(file.names)
        try model.quantizer?.restore { names.contains($0) ? try file.floats($0) : nil }
    }
}

import ArgumentParser
import Foundation
import Images
import Models
import Quantization
import TensorEngine
import Training

/// `rqdino`: self-supervised image quantization (paper 3.2): DINOv2 training with the residual quantizer on the
/// student's embedding; `--no-quantizer` is the post-hoc baseline's training (Table 3c).
struct RQDINOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rqdino",
        abstract: "Train an RQ-DINO image encoder (or plain DINOv2 with --no-quantizer) on a folder of images or a CSV.",
        discussion: """
        --images is a folder of JPEG/PNG files or a CSV with an image column (paths relative to the CSV). Unreadable, \
        corrupt and (with --drop-placeholders) placeholder images are reported and skipped. Writes into --out: \
        encoder.safetensors (student backbone under Hugging Face Dinov2Model names, the codebooks, the configs in its \
        metadata), config.json, training_log.jsonl, and checkpoint.safetensors (+ checkpoint-extras-<epoch>) for --resume.
        """)

    @Option(help: "Folder of images or CSV with an image column.") var images: String
    @Option(help: "Output directory (created if missing).") var out: String
    @Option(help: "Start the student and teacher from this backbone: a Hugging Face Dinov2Model folder or .safetensors (e.g. facebook/dinov2-small).")
    var `init`: String?
    @Flag(help: "Train without the quantizer (plain DINOv2; quantize the frozen embeddings afterwards).") var noQuantizer = false
    @Option(help: "Use only the first N images.") var limit: Int?
    @Option(help: "Epochs.") var epochs = 10
    @Option(help: "Images per step.") var batchSize = 64
    @Option(help: "Peak AdamW learning rate (cosine decay after warm-up).") var lr: Float = 5e-4
    @Option(help: "Teacher EMA momentum at the start (cosine to 1; default 0.992, DINOv2's).") var teacherMomentum: Float?
    @Option(help: "ViT shapes when not --init: cpu (patch 8, width 128, 4 layers) or vit-s14.") var model = "cpu"
    @Option(help: "LayerScale initial value of a model trained from scratch (not with --init).") var layerScale: Float?
    @Option(help: "Global crop size (default: 56 for cpu, 224 for ViT-S/14).") var globalSize: Int?
    @Option(help: "Local crop size (default: 24 for cpu, 98 for ViT-S/14).") var localSize: Int?
    @Option(help: "Local crops per image.") var localCrops = 4
    @Option(help: "DINO head prototypes.") var prototypes = 1024
    @Option(help: "Residual-quantization levels.") var levels = 3
    @Option(help: "Codes per level.") var codebook = 256
    @Option(help: "Commitment weight α₃.") var commitment: Float = 0.01
    @Option(help: "EMA decay of the codebooks (usage and sums per code).") var codebookDecay: Float = EMAResidualQuantizer.Options().decay
    @Option(help: "Re-seed a code from the batch when its moving usage falls below this share of the uniform usage.")
    var deadCodeThreshold: Float = EMAResidualQuantizer.Options().deadCodeThreshold
    @Option(help: "CSV column with the image path.") var imageColumn = "image"
    @Option(help: "CSV column with the item id.") var idColumn = "id"
    @Flag(help: "Drop uniform-colour and tiny images (placeholders).") var dropPlaceholders = false
    @Option(help: "Random seed (initialisation, crops, masks, order).") var seed: UInt64 = 0
    @Option(help: "Threads (one batch shard each, single-threaded BLAS inside).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Stop after the epoch that passes this many minutes (everything is written; --resume continues).")
    var maxMinutes: Double?
    @Option(help: "dinov2 (DINOv2's settings; the default with --init) or from-scratch (the default without: head batch centring, teacher temperature 0.04, last layer never frozen).")
    var recipe: String?
    @Option(help: "Teacher temperature after the warm-up (default: the recipe's).") var teacherTemperature: Float?
    @Option(help: "Epochs with the head's last layer frozen (default: the recipe's).") var freezeLastLayer: Int?
    @Option(help: "KoLeo weight α₂.") var koleo: Float = 0.1
    @Option(help: "Print output-spread, entropy, centre, gradient and schedule diagnostics every N steps (0: never).")
    var diagnostics = 0
    @Flag(help: "Continue the run in --out from its checkpoint (same flags).") var resume = false

    /// A run stopped by its time budget or a stop request exits 1, as `run` does, so scripts can tell it from a finished one.
    func run() throws { if try !execute() { throw ExitCode.failure } }

    /// Trains; true when every epoch ran, false when a stop request or the time budget ended it (the encoder of the
    /// epochs so far is written either way; `--resume` continues).
    func execute() throws -> Bool {
        Parallelism.setBLASThreads(1)
        Parallelism.workers = threads
        let started = Date()
        let (entries, root) = try ImageSource.list(images, imageColumn: imageColumn, idColumn: idColumn)
        let chosen = limit.map { Array(entries.prefix($0)) } ?? entries
        let loaded = ImageLoader.load(chosen, resolver: ImageResolver(root: root), dropPlaceholders: dropPlaceholders, threads: threads)
        for problem in loaded.problems.prefix(20) { stderr("skipped: \(problem.message)") }
        if loaded.problems.count > 20 { stderr("skipped \(loaded.problems.count - 20) more") }
        let usable = loaded.images.compactMap { $0 }
        guard usable.count >= 2 else { throw ValidationError("\(images): fewer than two usable images") }
        stderr("read \(usable.count) images of \(chosen.count) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")

        var backbone: VisionTransformer? = nil
        var vit = model == "vit-s14" ? ViTConfig.vitS14 : ViTConfig.cpuDefault
        if let path = `init` {
            let loadedBackbone = try VisionTransformer.load(URL(fileURLWithPath: path))
            backbone = loadedBackbone
            vit = loadedBackbone.config
        } else if !["cpu", "vit-s14"].contains(model) {
            throw ValidationError("--model must be cpu or vit-s14")
        }
        if let layerScale, `init` == nil { vit.layerScaleInit = layerScale }
        let large = vit.patchSize == 14
        var config = RQDINOConfig(vit: vit, globalSize: globalSize ?? (large ? 224 : 56), localSize: localSize ?? (large ? 98 : 24))
        config.localCrops = localCrops
        config.prototypes = prototypes
        config.commitmentWeight = commitment
        config.koleoWeight = koleo
        guard codebookDecay > 0, codebookDecay < 1 else { throw ValidationError("--codebook-decay must lie strictly between 0 and 1") }
        guard deadCodeThreshold >= 0, deadCodeThreshold < 1 else { throw ValidationError("--dead-code-threshold must lie in [0, 1)") }
        config.quantizer = noQuantizer ? nil : .init(levels: levels, codebookSize: codebook, decay: codebookDecay, deadCodeThreshold: deadCodeThreshold)
        if large { config.headHidden = 2048; config.headBottleneck = 256 }

        var options = RQDINOOptions()
        options.epochs = epochs; options.batchSize = batchSize; options.learningRate = lr; options.seed = seed; options.threads = threads
        options.diagnosticsEvery = diagnostics
        let plan = try recipe.map { name in
            guard let r = RQDINORecipe(rawValue: name) else { throw ValidationError("--recipe must be dinov2 or from-scratch") }
            return r
        } ?? (`init` == nil ? .fromScratch : .dinov2)
        plan.apply(to: &config, &options)
        if let teacherMomentum { options.momentumStart = teacherMomentum }
        if let teacherTemperature { options.teacherTemperature = teacherTemperature }
        if let freezeLastLayer { options.freezeLastLayerEpochs = freezeLastLayer }
        let rq = RQDINOModel(config: config, seed: seed, initialBackbone: backbone)
        let trainer = RQDINOTrainer(model: rq, images: usable, options: options)
        let outURL = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        let checkpoint = outURL.appendingPathComponent("checkpoint.safetensors")
        if resume, !FileManager.default.fileExists(atPath: checkpoint.path) { throw ValidationError("--resume: no checkpoint at \(checkpoint.path)") }
        let log = try TrainingLog(url: outURL.appendingPathComponent("training_log.jsonl"), append: resume)
        stderr("rqdino: recipe \(plan.rawValue), \(noQuantizer ? "DINOv2 without quantizer" : "quantizer \(levels)×\(codebook), codebook EMA decay \(codebookDecay), dead-code threshold \(deadCodeThreshold)"), ViT \(vit.hiddenSize)×\(vit.layers), patch \(vit.patchSize), "
               + "crops \(config.globalSize)/\(config.localSize)×\(localCrops), \(trainer.stepsPerEpoch) steps per epoch, \(threads) threads")
        let finished = try trainer.train(checkpoint: checkpoint, resume: resume, shouldStop: stopCheck(started: started, maxMinutes: maxMinutes), log: log) { stderr($0) }
        try RQDINOEncoder.save(rq, to: outURL)
        stderr("wrote \(outURL.path)/encoder.safetensors in " + String(format: "%.1f min", Date().timeIntervalSince(started) / 60))
        return finished
    }
}

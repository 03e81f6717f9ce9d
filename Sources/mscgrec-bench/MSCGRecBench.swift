import ArgumentParser
import BLASRuntime
import Catalog
import ItemCodes
import Datasets
import CVectorMath
import Foundation
import Models
import TensorEngine
import Training

/// MSCGRec training steps on Beauty-shaped batches: ours vs the PyTorch reference of the same model
/// (scripts/bench_torch_mscgrec.py) and vs Hugging Face T5ForConditionalGeneration at the same shapes, on the same
/// history lengths, batch size and thread count, in one run.
struct MSCGRecBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mscgrec",
        abstract: "MSCGRec training samples/s: ours vs the PyTorch reference and Hugging Face T5 at the same shapes.")

    @OptionGroup var beauty: BeautyWork
    var work: String { beauty.work }
    var dataset: String { beauty.dataset }
    var name: String { beauty.name }
    @Option(help: "Model/training config JSON (as for `train --config`); default the built-in defaults.") var config: String?
    @Option(help: "Timed optimiser steps on each side (random batches of the epoch: every length, as training sees them).")
    var steps = 40
    @Option(help: "Threads for every side.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Python interpreter with torch and transformers installed.") var python = "python3"
    @Flag(help: "Skip the Python sides.") var noTorch = false
    @Flag(help: "Use the threads inside BLAS (one shard) instead of one data-parallel shard per thread.") var blasThreads = false
    @Option(help: "A SASRec run of --work: also time distilled steps (the config's training.distillation, else its defaults) to show what scoring the teacher costs.")
    var teacher: String?

    func run() throws {
        Parallelism.setBLASThreads(threads)
        Parallelism.workers = blasThreads ? 1 : threads
        print(KernelSelection.summaryLine + "; " + RowKernel.description)
        let workURL = URL(fileURLWithPath: work)
        let data = try preparedWorkDirectory(work, from: dataset, name: name)
        var runConfig = MSCGRecRunConfig()
        if let config { runConfig = try MSCGRecRunConfig.decode(try Data(contentsOf: URL(fileURLWithPath: config)), source: config) }
        let (model, items, tree, source) = try Self.modelInputs(work: workURL, data: data, runConfig: runConfig)
        // Ours at float32 products and, where the CPU has it, at bfloat16, on the same batches; the training default
        // (`auto`) is whichever of the two this CPU's start-up measurement chose.
        func timed(_ precision: MatmulPrecision) throws -> (seconds: Double, samples: Int, shapes: [(items: Int, rows: Int)]) {
            var options = runConfig.training
            options.matmulPrecision = precision
            options.distillation = nil   // the plain steps; `--teacher` times the distilled ones
            return try MSCGRecTrainer(dataset: data, config: model, items: items, tree: tree, options: options).timeSteps(steps)
        }
        let ours = try timed(.float32)
        let oursRate = Double(ours.samples) / ours.seconds
        // The same float32 steps with denormals computed exactly: what flushing them is worth on this CPU.
        vm_set_denormal_flushing(0)
        let kept = try timed(.float32)
        vm_set_denormal_flushing(1)
        let keptRate = Double(kept.samples) / kept.seconds
        var bfloat16Rate: Double?
        if MatmulPrecision.bfloat16Available {
            let run = try timed(.bfloat16)
            bfloat16Rate = Double(run.samples) / run.seconds
        }
        let t = model.transformer
        print("MSCGRec \(name) (\(source)): \(model.modalities.map { "\($0.name)\($0.codebookSizes)" }.joined(separator: " ")), "
              + "d \(t.dModel), \(t.encoderLayers)+\(t.decoderLayers) layers, \(t.heads)×\(t.headDim), FFN \(t.dFF), batch \(runConfig.training.batchSize), "
              + "\(steps) steps, \(blasThreads ? "BLAS threads" : "data-parallel shards"), mean history \(String(format: "%.1f", Double(ours.shapes.map { $0.items * $0.rows }.reduce(0, +)) / Double(max(1, ours.samples)))) items, threads \(threads)")
        print(String(format: "ours float32    %8.0f samples/s | with denormals kept %.0f samples/s (flushing them: %.2f×)", oursRate, keptRate, oursRate / keptRate))
        if let bfloat16Rate {
            print(String(format: "ours bfloat16   %8.0f samples/s | bfloat16/float32 speed %.2f", bfloat16Rate, bfloat16Rate / oursRate))
        } else {
            print("ours bfloat16   (this CPU has no AVX512_BF16: training runs float32)")
        }
        print("training default (auto): \(MatmulPrecision.autoDescription)")
        let best = MatmulPrecision.effective(.auto) == .bfloat16 ? bfloat16Rate ?? oursRate : oursRate
        if let teacher {
            // The same steps at the training default, now also scoring every item with SASRec per example.
            var options = runConfig.training
            options.distillation = options.distillation ?? DistillationOptions()
            let sasrecTeacher = try SASRecTeacher(model: SASRec.load(runDirectory: URL(fileURLWithPath: teacher)), items: items)
            let run = try MSCGRecTrainer(dataset: data, config: model, items: items, tree: tree, options: options, teacher: sasrecTeacher).timeSteps(steps)
            let rate = Double(run.samples) / run.seconds
            print(String(format: "ours distilled  %8.0f samples/s (default products) | the teacher costs %.0f%% of a distilled step", rate, 100 * (1 - rate / best)))
        }
        guard !noTorch else { return }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/bench_torch_mscgrec.py").standardized
        let configJSON = String(decoding: try JSONEncoder().encode(model), as: UTF8.self)
        let output = try runProcess(python, [script.path, "--config", configJSON, "--shapes", ours.shapes.map { "\($0.items):\($0.rows)" }.joined(separator: ","), "--threads", "\(threads)",
                                             "--lr", "\(runConfig.training.learningRate)"])
        guard let line = output.split(separator: "\n").last,
              let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let reference = json["reference_samples_per_second"] as? Double, let hf = json["hf_t5_samples_per_second"] as? Double
        else { throw ValidationError("PyTorch MSCGRec benchmark printed no result") }
        print(String(format: "torch reference %8.0f samples/s | ours/reference speed %.2f float32, %.2f default", reference, oursRate / reference, best / reference))
        if let autocast = json["reference_bf16_samples_per_second"] as? Double {
            print(String(format: "torch autocast  %8.0f samples/s (bfloat16) | ours default/autocast speed %.2f", autocast, best / autocast))
        }
        print(String(format: "HF T5           %8.0f samples/s | ours/HF speed %.2f float32, %.2f default", hf, oursRate / hf, best / hf))
    }

    /// The work directory's text + collaborative codes when `quantize` wrote them, else random codes of Beauty's shape
    /// (3 levels of 256 plus a collision level of 16 per modality; speed does not depend on the code values).
    static func modelInputs(work: URL, data: PreparedDataset, runConfig: MSCGRecRunConfig) throws
        -> (MSCGRecConfig, ItemTokens, PrefixTree, String) {
        let available = (try? MSCGRecWorkData.availableModalities(work: work)) ?? []
        if Set(available.map(\.modality)).isSuperset(of: ["text", "collaborative"]) {
            var rc = runConfig
            rc.model.modalities = rc.model.modalities ?? ["text", "collaborative"]
            let model = try rc.resolve(available: available, datasetMaxHistory: data.maxHistory)
            let (items, tree) = try MSCGRecWorkData.load(work: work, config: model)
            return (model, items, tree, "real codes")
        }
        let sizes = [256, 256, 256, 16]
        let fake = ["text", "collaborative"].map { ModalityInfo(modality: $0, levels: 4, codebookSizes: sizes, source: "random", itemsWithCodes: data.itemCount) }
        let model = try runConfig.resolve(available: fake, datasetMaxHistory: data.maxHistory)
        var rng = SeededGenerator(seed: 1)
        var sets: [(codes: [Int32], present: [Bool])] = []
        for _ in model.modalities {
            var codes: [Int32] = []
            for item in 0..<data.itemCount { codes += [Int32(rng.index(256)), Int32(rng.index(256)), Int32(rng.index(256)), Int32(item % 16)] }
            sets.append((codes, [Bool](repeating: true, count: data.itemCount)))
        }
        let items = try ItemTokens(layout: TokenLayout(model), modalities: sets)
        let target = sets[TokenLayout(model).targetIndex]
        let tree = try PrefixTree(codes: target.codes, depth: 4, codebookSizes: sizes, present: target.present)
        return (model, items, tree, "random codes")
    }
}

/// The work directory both MSCGRec benchmarks read, and where to prepare it from when it is missing.
struct BeautyWork: ParsableArguments {
    @Option(help: "Work directory with text and collaborative codes (prepared Beauty); without codes, random codes of Beauty's shape are used.")
    var work = "/tmp/mscgrec-bench-sasrec"
    @Option(help: "LC-Rec dataset folder to prepare --work from when it is missing.") var dataset = "../shared/datasets/amazon14-beauty"
    @Option(help: "Dataset name inside the folder.") var name = "Beauty"
}

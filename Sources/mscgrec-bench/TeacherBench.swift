import ArgumentParser
import Datasets
import Foundation
import Models
import TensorEngine
import Training

/// What a distilled MSCGRec learns from (`training.distillation`): a trained SASRec's next-item distribution on the
/// training positions it was fitted to against held-out validation positions. A teacher much surer of its training
/// targets than of unseen ones mostly repeats the hard labels there.
struct TeacherBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "teacher",
        abstract: "SASRec's next-item distribution on training vs validation positions (a distillation teacher's calibration).")

    @Option(help: "Work directory written by `prepare` (a pipeline's WORK/data).") var data: String
    @Option(help: "SASRec run directory (sasrec.safetensors).") var sasrec: String
    @Option(help: "Training positions sampled (seeded).") var samples = 20_000
    @Option(help: "Softmax temperatures, comma-separated.") var temperatures = "1,2,4"
    @Option(help: "Threads.") var threads = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        Parallelism.setBLASThreads(threads)
        let dataset = try WorkDirectory.load(URL(fileURLWithPath: data))
        let model = try SASRec.load(runDirectory: URL(fileURLWithPath: sasrec))
        let temps = try temperatures.split(separator: ",").map { text -> Float in
            guard let t = Float(text.trimmingCharacters(in: .whitespaces)), t > 0 else { throw ValidationError("--temperatures: \"\(text)\" is not a positive number") }
            return t
        }
        var training: [SequenceExample] = []
        dataset.forEachTrainingExample { training.append($0) }
        var rng = SeededGenerator(seed: 1)
        let sampled = rng.permutation(training.count).prefix(samples).map { training[$0] }
        let validation = (0..<dataset.userCount).map { dataset.validationExample(ofUser: $0) }
        print("SASRec \(sasrec) on \(dataset.info.name): \(model.config.items) items; \(sampled.count) of \(training.count) training positions, \(validation.count) validation")
        print("positions    T    mean log p(target)   p(target)   entropy (nats)   top-1 p   R@10   top-1 in history")
        for (name, examples) in [("training", sampled), ("validation", validation)] {
            for t in temps {
                let s = statistics(model, examples, temperature: t)
                print(String(format: "%-10@ %4.1f %14.3f %16.4f %13.2f %12.4f %7.4f %10.4f", name as NSString, t, s.logP, s.p, s.entropy, s.top1,
                             s.recall10, s.top1InHistory))
            }
        }
    }

    func statistics(_ model: SASRec, _ examples: [SequenceExample], temperature: Float)
        -> (logP: Double, p: Double, entropy: Double, top1: Double, recall10: Double, top1InHistory: Double) {
        let n = model.config.items, length = model.config.maxLength
        var sums = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        for start in stride(from: 0, to: examples.count, by: 512) {
            let batch = Array(examples[start..<min(examples.count, start + 512)])
            let padded = SequenceBatches.evaluation(batch, length: length)
            let scores = model.lastPositionScores(ids: padded.ids, batch: padded.size)
            for (row, e) in batch.enumerated() {
                let s = UnsafeBufferPointer(start: scores.data + row * n, count: n)
                let maximum = Double(s.max() ?? 0)
                var z = 0.0, weighted = 0.0
                for v in s { let x = (Double(v) - maximum) / Double(temperature); let e = exp(x); z += e; weighted += e * x }
                let target = (Double(s[Int(e.target)]) - maximum) / Double(temperature)
                let higher = s.reduce(0) { $0 + ($1 > s[Int(e.target)] ? 1 : 0) }
                sums.0 += target - log(z); sums.1 += exp(target) / z
                sums.2 += log(z) - weighted / z; sums.3 += 1 / z; sums.4 += higher < 10 ? 1 : 0
                let best = Int32(s.indices.max { s[$0] < s[$1] } ?? 0)
                sums.5 += e.history.contains(best) ? 1 : 0
            }
        }
        let c = Double(max(1, examples.count))
        return (sums.0 / c, sums.1 / c, sums.2 / c, sums.3 / c, sums.4 / c, sums.5 / c)
    }
}

import BLASRuntime
import ArgumentParser
import Foundation
import Models
import MSCCore
import TensorEngine

/// One T5 encoder block, forward + backward, in our engine and in PyTorch (scripts/bench_torch_block.py)
/// on the same shapes and thread count, plus raw sgemm throughput at 1024³.
struct EngineBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "engine",
        abstract: "T5 block forward+backward: ours vs PyTorch, and sgemm GFLOP/s.")

    @Option(help: "Threads for both engines (BLAS and elementwise).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Timed iterations per shape.") var iterations = 10
    @Option(help: "Python interpreter with torch installed.") var python = "python3"
    @Flag(help: "Skip the PyTorch side (prints our timings only).") var noTorch = false

    struct Shape { let batch, length, dModel, heads, headDim, dFF: Int }
    static let shapes = [Shape(batch: 64, length: 64, dModel: 128, heads: 4, headDim: 32, dFF: 1024),
                         Shape(batch: 32, length: 128, dModel: 512, heads: 8, headDim: 64, dFF: 2048)]

    func run() throws {
        Parallelism.setBLASThreads(threads)
        Parallelism.workers = threads
        print("threads: \(threads)")
        print(KernelSelection.summaryLine + "; " + RowKernel.description)   // every figure names the CPU and kernels it was measured with
        print(String(format: "matmul 1024³: %.1f GFLOP/s", sgemmGFlops()))
        print("shape (B,T,D,H×K,F)        ours fwd  ours bwd  ours tot | torch tot | ratio ours/torch")
        for s in Self.shapes {
            let ours = timeOurs(s)
            let torch = noTorch ? nil : try timeTorch(s)
            let label = "(\(s.batch),\(s.length),\(s.dModel),\(s.heads)×\(s.headDim),\(s.dFF))"
            let torchText = torch.map { String(format: "%8.1f ms", $0) } ?? "       n/a"
            let ratio = torch.map { String(format: "%.2f", ours.total / $0) } ?? "n/a"
            print(label.padding(toLength: 26, withPad: " ", startingAt: 0)
                  + String(format: " %7.1f  %7.1f  %7.1f ms |", ours.forward, ours.backward, ours.total) + " \(torchText) | \(ratio)")
        }
    }

    private func sgemmGFlops() -> Double {
        var rng = SeededGenerator(seed: 1)
        let a = Tensor.normal([1024, 1024], using: &rng), b = Tensor.normal([1024, 1024], using: &rng)
        _ = matmul(a, b)
        let seconds = median((0..<5).map { _ in measure { _ = matmul(a, b) } })
        return 2 * pow(1024, 3) / seconds / 1e9
    }

    private func timeOurs(_ s: Shape) -> (forward: Double, backward: Double, total: Double) {
        var rng = SeededGenerator(seed: 2)
        let config = TransformerConfig(dModel: s.dModel, heads: s.heads, headDim: s.headDim, dFF: s.dFF)
        let layer = T5EncoderLayer(config, using: &rng)
        let bias = RelativePositionBias(table: Tensor.normal([32, s.heads], std: 0.5, using: &rng).requiringGrad(),
                                        bidirectional: true, maxDistance: 128)
        let x = Tensor.normal([s.batch, s.length, s.dModel], using: &rng).requiringGrad()
        let dout = Tensor.normal([s.batch, s.length, s.dModel], using: &rng)
        let mask = AttentionMask.keyPadding(Tensor.zeros([s.batch, s.length]))
        var forwards: [Double] = [], backwards: [Double] = []
        for iteration in 0..<(iterations + 2) {
            var out: Tensor?
            let f = measure { out = layer(x, positionBias: bias.bias(queryLength: s.length, keyLength: s.length), mask: mask) }
            let b = measure { out!.backward(seed: dout) }
            if iteration >= 2 { forwards.append(f); backwards.append(b) }   // two warm-up iterations
        }
        let totals = zip(forwards, backwards).map { $0 + $1 }
        return (median(forwards) * 1e3, median(backwards) * 1e3, median(totals) * 1e3)
    }

    private func timeTorch(_ s: Shape) throws -> Double {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/bench_torch_block.py").standardized
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script.path, "--batch", "\(s.batch)", "--length", "\(s.length)", "--dmodel", "\(s.dModel)",
                             "--heads", "\(s.heads)", "--dkv", "\(s.headDim)", "--dff", "\(s.dFF)", "--threads", "\(threads)",
                             "--iters", "\(iterations)", "--warmup", "2"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let line = String(data: data, encoding: .utf8)?.split(separator: "\n").last,
              let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let total = json["total_ms"] as? Double
        else { throw ValidationError("PyTorch benchmark failed (is torch installed for \(python)? `make bench-engine` installs it)") }
        return total
    }
}

func measure(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

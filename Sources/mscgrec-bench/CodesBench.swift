import BLASRuntime
import ArgumentParser
import ItemCodes
import Quantization
import Foundation
import TensorEngine

/// Item-code benchmark (issue 5): RQ-k-means on Beauty's text embeddings and on collaborative embeddings (SASRec's
/// export, or a random-projection stand-in), then 1,000,000 synthetic 768-d items end to end: quantization, collision
/// level, prefix tree (bytes per item, lookups), all against the targets, and our sgemm nearest-code search against
/// the naive reference loop in the same run.
struct CodesBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "codes",
        abstract: "RQ-k-means on Beauty and on 1M synthetic items; prefix-tree size and lookups; figures vs targets.")

    @Option(help: "Directory with Beauty.text-mpnet.npy.") var beauty = "../shared/datasets/amazon14-beauty"
    @Option(help: "Collaborative embeddings (SASRec's item_embedding.safetensors); default: a random projection of the text embeddings to 64-d as a stand-in.")
    var collaborative: String?
    @Option(help: "Synthetic items for the scale run (0 skips it).") var items = 1_000_000
    @Option(help: "Dimension of the synthetic items.") var dim = 768
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func run() throws {
        print("threads: \(ProcessInfo.processInfo.activeProcessorCount)")
        print(KernelSelection.summaryLine + "; " + RowKernel.description)   // every figure names the CPU and kernels it was measured with
        let text = try NpyFile.readMatrix((beauty as NSString).appendingPathComponent("Beauty.text-mpnet.npy"))
        kernelComparison(text)
        let textFigures = try quantize(text, label: "Beauty text (\(text.rows)×\(text.columns))")
        print(String(format: "  time %.2f s vs target 20 s: %.2f of the budget", textFigures.seconds, textFigures.seconds / 20))
        let collaborativeMatrix: FloatMatrix
        let label: String
        if let collaborative {
            collaborativeMatrix = try EmbeddingInput.load(path: collaborative, idsPath: nil,
                                                          catalogIDs: (0..<text.rows).map(String.init)).matrix
            label = "Beauty SASRec item embeddings (\(collaborativeMatrix.rows)×\(collaborativeMatrix.columns))"
        } else {
            collaborativeMatrix = randomProjection(text, to: 64)
            label = "Beauty collaborative STAND-IN: random projection of text to 64-d (no SASRec export given)"
        }
        _ = try quantize(collaborativeMatrix, label: label)
        if items > 0 { try scale() }
        print(String(format: "peak resident memory of this process: %.2f GiB", Double(peakResidentBytes()) / Double(1 << 30)))
    }

    struct Figures { var seconds: Double; var tree: PrefixTree }

    /// RQ-k-means 3×256 + collision level + prefix tree, timed; prints the quality figures.
    func quantize(_ x: FloatMatrix, label: String) throws -> Figures {
        print("\n\(label)")
        let start = ContinuousClock.now
        let (codebooks, _) = try RQKMeans.train(x, options: RQKMeansOptions(levels: 3, codebookSize: 256, seed: seed)) { message in
            FileHandle.standardError.write(Data("  [\(elapsed(since: start))] \(message)\n".utf8))
        }
        let (codes, errors) = codebooks.encode(x)
        let trained = elapsed(since: start)
        let present = [Bool](repeating: true, count: x.rows)
        // Capacity unbounded here so an overflow is reported rather than ending the run.
        let collision = try CollisionLevel.append(codes: codes, levels: 3, present: present, capacity: x.rows, modality: "bench")
        let sizes = [256, 256, 256, max(256, collision.maxGroup)]
        let treeStart = ContinuousClock.now
        let tree = try PrefixTree(codes: collision.codes, depth: 4, codebookSizes: sizes, present: present)
        let treeSeconds = elapsed(since: treeStart)
        let seconds = elapsed(since: start)
        let stats = CodeStatistics(codes: .init(modality: "bench", levels: 4, codebookSizes: sizes, source: "bench",
                                                codes: collision.codes, present: present), hasCollisionLevel: true)
        let total = x.squaredNorm()
        print("  utilisation per level: " + stats.utilization.prefix(3).map { String(format: "%.1f%%", 100 * $0) }.joined(separator: ", ")
              + " (level 1 target ≥ 90%: " + (stats.utilization[0] >= 0.9 ? "met" : "MISSED") + ")")
        print("  perplexity per level: " + stats.perplexity.prefix(3).map { String(format: "%.1f", $0) }.joined(separator: ", "))
        print("  relative reconstruction error after each level: " + errors.map { String(format: "%.4f", $0 / total) }.joined(separator: ", "))
        print(String(format: "  collision rate %.2f%%, largest collision group %d ", 100 * stats.collisionRate, stats.maxCollisionGroup)
              + (stats.maxCollisionGroup <= 256 ? "(fits the 256-entry collision level)" : "(EXCEEDS the 256-entry collision level: quantize would refuse)"))
        print(String(format: "  quantize (train + encode all) %.2f s, collision level + prefix tree %.2f s (tree alone %.2f s), total %.2f s",
                     trained, seconds - trained, treeSeconds, seconds))
        return Figures(seconds: seconds, tree: tree)
    }

    /// The sgemm nearest-code search against the naive loop, on Beauty rows vs 256 codes.
    func kernelComparison(_ x: FloatMatrix) {
        let rows = x.gathering(rows: Array(0..<min(2000, x.rows)))
        let codebook = x.gathering(rows: Array(stride(from: 0, to: x.rows, by: x.rows / 256).prefix(256)))
        let naiveStart = ContinuousClock.now
        let reference = codebook.nearestCodesByNaiveLoops(of: rows)
        let naive = elapsed(since: naiveStart)
        let fastStart = ContinuousClock.now
        let fast = codebook.nearestCodes(of: rows)
        let ours = elapsed(since: fastStart)
        let agree = zip(fast, reference).filter { $0 == $1 }.count
        print(String(format: "nearest code of %d rows among 256 (768-d): sgemm %.1f ms, naive loops %.1f ms, ratio ours/naive %.3f; same code for %d/%d rows",
                     rows.rows, ours * 1000, naive * 1000, ours / naive, agree, rows.rows))
    }

    /// 1M synthetic items: quantization time, memory, collisions, tree size, lookups, serialisation.
    func scale() throws {
        let generateStart = ContinuousClock.now
        let x = syntheticItems(count: items, dimension: dim)
        print(String(format: "\n%d synthetic items × %d (3-level hierarchical mixture, 256 prototypes per level, generated in %.1f s)", items, dim, elapsed(since: generateStart)))
        let figures = try quantize(x, label: "synthetic scale run")
        let tree = figures.tree
        let perItem = Double(tree.byteCount) / Double(tree.leafCount)
        print(String(format: "  time %.1f s vs target 600 s: %.3f of the budget", figures.seconds, figures.seconds / 600))
        print(String(format: "  prefix tree: %d nodes, %.1f MiB, %.1f bytes per item vs target 64: %.2f of the budget",
                     tree.nodeCount, Double(tree.byteCount) / 1_048_576, perItem, perItem / 64))
        // Lookups: the full sequence of random items walked from the root (what beam search does level by level).
        var sequences: [[Int32]] = []
        tree.forEachSequence { sequence, _ in if sequences.count < 200_000 { sequences.append(sequence) } }
        let lookupStart = ContinuousClock.now
        var found = 0
        for sequence in sequences where tree.item(forSequence: sequence) != nil { found += 1 }
        let lookup = elapsed(since: lookupStart)
        print(String(format: "  %d full-sequence lookups (4 child searches each): %.0f ns per lookup, %d found", sequences.count, lookup * 1e9 / Double(sequences.count), found))
        let serialStart = ContinuousClock.now
        let data = tree.serialized()
        let reread = try PrefixTree(serialized: data)
        print(String(format: "  serialise + validate + read back: %.2f s, file %.1f MiB, round trip ", elapsed(since: serialStart),
                     Double(data.count) / 1_048_576) + (reread == tree ? "identical" : "DIFFERENT"))
        print(String(format: "  peak resident memory so far %.2f GiB vs target 6 GiB", Double(peakResidentBytes()) / Double(1 << 30)))
    }

    /// Hierarchically clustered rows, as embedding spaces tend to be: x = A[a] + 0.5·B[b] + 0.25·C[c] + 0.1·u with
    /// a, b, c uniform over 256 prototypes each and u unit-variance uniform noise (cheap to draw), generated in
    /// parallel from per-chunk seeds. Pure isotropic noise would be the wrong test: no 3×256 quantizer can separate
    /// a million points of 768-d white noise, and then hundreds of items share every code.
    func syntheticItems(count: Int, dimension: Int) -> FloatMatrix {
        var rng = SeededGenerator(seed: seed &+ 99)
        let prototypes = (0..<3).map { _ in
            FloatMatrix(rows: 256, columns: dimension, scalars: (0..<256 * dimension).map { _ in rng.normal() })
        }
        let weights: [Float] = [1, 0.5, 0.25]
        let noise = Float(0.1 * 3.0.squareRoot())  // uniform on ±√3 has unit variance
        let x = FloatMatrix(rows: count, columns: dimension)
        let chunk = 4096
        let base = seed
        DispatchQueue.concurrentPerform(iterations: (count + chunk - 1) / chunk) { c in
            var local = SeededGenerator(seed: base &+ 1000 &+ UInt64(c))
            for r in c * chunk..<min(count, (c + 1) * chunk) {
                let row = x.row(r)
                for j in 0..<dimension { row[j] = noise * (2 * local.uniform() - 1) }
                for (level, book) in prototypes.enumerated() {
                    let p = book.row(local.index(256)), w = weights[level]
                    for j in 0..<dimension { row[j] += w * p[j] }
                }
            }
        }
        return x
    }

    func randomProjection(_ x: FloatMatrix, to width: Int) -> FloatMatrix {
        var rng = SeededGenerator(seed: seed &+ 7)
        let projection = Tensor.normal([x.columns, width], std: 1 / Float(width).squareRoot(), using: &rng)
        return FloatMatrix(withoutGrad { matmul(x.tensor, projection) })
    }
}

private func elapsed(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

private func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024  // Linux reports KiB
}

import CBLAS
import Foundation

/// Single-threaded sgemm throughput at the products our models run (T5 d=128, FFN 1024, a few thousand tokens: the
/// forward product, the down projection, the weight gradient with a transposed operand) and a correctness check of the
/// same kernels against a naive double-precision loop. Run in a child process per candidate core.
public enum Probe {
    public struct Result: Sendable { public var gflops: Double; public var maxRelativeError: Double }

    /// (M, N, K, transposeA, transposeB)
    static let timedShapes = [(4096, 1024, 128, false, false), (4096, 128, 1024, false, false), (128, 1024, 4096, true, false)]

    public static func run() -> Result {
        let error = maxRelativeError()
        var flops = 0.0, seconds = 0.0
        for (m, n, k, ta, tb) in timedShapes {
            let a = pattern(m * k, seed: 1), b = pattern(k * n, seed: 2)
            var c = [Float](repeating: 0, count: m * n)
            sgemm(m, n, k, ta, tb, a, b, &c)   // warm-up: pages, packing buffers
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<3 { sgemm(m, n, k, ta, tb, a, b, &c) }
            seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            flops += 3 * 2 * Double(m) * Double(n) * Double(k)
        }
        return Result(gflops: flops / seconds / 1e9, maxRelativeError: error)
    }

    /// Largest |fast − naive| / (1 + |naive|) over every transpose form at odd shapes (edges of the kernels' tiles)
    /// and at a model shape.
    public static func maxRelativeError() -> Double {
        var worst = 0.0
        for (m, n, k) in [(37, 65, 129), (256, 384, 128)] {
            for ta in [false, true] { for tb in [false, true] {
                let a = pattern(m * k, seed: 3), b = pattern(k * n, seed: 4)
                var c = [Float](repeating: 0, count: m * n)
                sgemm(m, n, k, ta, tb, a, b, &c)
                let reference = naive(m, n, k, ta, tb, a, b)
                for i in 0..<(m * n) { worst = max(worst, abs(Double(c[i]) - reference[i]) / (1 + abs(reference[i]))) }
            } }
        }
        return worst
    }

    /// Row-major C[m×n] = op(A)·op(B); op(A) is [m×k] (stored [k×m] when transposed), op(B) is [k×n].
    static func sgemm(_ m: Int, _ n: Int, _ k: Int, _ ta: Bool, _ tb: Bool, _ a: [Float], _ b: [Float], _ c: inout [Float]) {
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, a, Int32(ta ? m : k), b, Int32(tb ? k : n), 0, &c, Int32(n))
    }

    static func naive(_ m: Int, _ n: Int, _ k: Int, _ ta: Bool, _ tb: Bool, _ a: [Float], _ b: [Float]) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var sum = 0.0
            for p in 0..<k { sum += Double(a[ta ? p * m + i : i * k + p]) * Double(b[tb ? j * k + p : p * n + j]) }
            c[i * n + j] = sum
        } }
        return c
    }

    /// Deterministic values in [-1, 1) (no generator needed in a probe).
    static func pattern(_ count: Int, seed: UInt32) -> [Float] {
        var state = seed &* 2_654_435_761 | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 17; state ^= state << 5
            return Float(state >> 8) / Float(1 << 23) - 1
        }
    }
}

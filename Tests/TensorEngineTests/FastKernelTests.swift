import Foundation
import CVectorMath
@testable import TensorEngine
import TestSupport
import XCTest

/// Each fast kernel against the plain reference it replaces.
final class FastKernelTests: XCTestCase {
    /// Broadcasting binary ops (unit-stride, row-scalar and general rows) against a naive loop over output indices.
    func testBroadcastBinaryOpsMatchTheIndexLoop() {
        var rng = SeededGenerator(seed: 21)
        let pairs: [([Int], [Int])] = [([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [2, 3, 1]), ([2, 3, 1], [2, 3, 4]),
                                       ([4], [2, 3, 4]), ([2, 1, 4], [3, 1]), ([3, 1], [1, 5]), ([2, 3, 4], [])]
        for (shapeA, shapeB) in pairs {
            let a = Tensor.normal(shapeA, using: &rng), b = Tensor.uniform(shapeB, low: 0.5, high: 2, using: &rng)
            let shape = Shape.broadcast(shapeA, shapeB)!
            let sa = Shape.broadcastStrides(shapeA, to: shape), sb = Shape.broadcastStrides(shapeB, to: shape)
            for (name, op, f) in [("add", { $0 + $1 }, { $0 + $1 }), ("sub", { $0 - $1 }, { $0 - $1 }),
                                  ("mul", { $0 * $1 }, { $0 * $1 }), ("div", { $0 / $1 }, { $0 / $1 })]
                as [(String, (Tensor, Tensor) -> Tensor, (Float, Float) -> Float)] {
                let out = op(a, b)
                XCTAssertEqual(out.shape, shape)
                for flat in 0..<out.count {
                    var rest = flat, offsetA = 0, offsetB = 0
                    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
                        let index = rest % shape[axis]
                        rest /= shape[axis]
                        offsetA += index * sa[axis]; offsetB += index * sb[axis]
                    }
                    XCTAssertEqual(out[flat: flat], f(a[flat: offsetA], b[flat: offsetB]), "\(name) \(shapeA) \(shapeB) at \(flat)")
                }
            }
        }
    }

    func testFastExpIsWithinThreeUlpOfLibm() {
        var worst: Float = 0
        for i in 0...200_000 {
            let x = -87 + Float(i) * (175 / 200_000)
            let reference = Foundation.exp(x)
            worst = max(worst, abs(fastExp(x) - reference) / reference)
        }
        XCTAssertLessThan(worst, 3.6e-7, "largest relative error \(worst)")
        XCTAssertEqual(fastExp(Float(-200)), 0, accuracy: 1e-37)
        XCTAssertTrue(fastExp(Float(200)).isFinite)
    }

    func testFastTanhAbsoluteError() {
        var worst: Float = 0
        for i in 0...200_000 {
            let x = -20 + Float(i) * (40 / 200_000)
            worst = max(worst, abs(fastTanh(x) - Foundation.tanh(x)))
        }
        XCTAssertLessThan(worst, 2e-7, "largest absolute error \(worst)")
    }

    func testFusedGatedGELUMatchesComposite() {
        var rng = SeededGenerator(seed: 11)
        let a1 = Tensor.normal([3, 70_000], std: 2, using: &rng).requiringGrad(), b1 = Tensor.normal([3, 70_000], using: &rng).requiringGrad()
        let a2 = a1.copy().requiringGrad(), b2 = b1.copy().requiringGrad()
        let seed = Tensor.normal([3, 70_000], using: &rng)
        let fused = gatedGELU(a1, b1), composite = gatedGELUComposite(a2, b2)
        assertClose(fused, composite, "gated gelu forward", atol: 1e-6, rtol: 1e-5)
        fused.backward(seed: seed); composite.backward(seed: seed)
        assertClose(a1.grad, a2.grad!, "gated gelu da", atol: 1e-6, rtol: 1e-5)
        assertClose(b1.grad, b2.grad!, "gated gelu db", atol: 1e-6, rtol: 1e-5)
    }

    /// The per-width C kernel (whichever clone this CPU gets) against the scalar Swift loop, at lengths that leave
    /// every vector tail and at inputs from deep in both saturated ends through zero.
    func testVectorGatedGELUMatchesTheScalarReference() {
        XCTAssertTrue(["avx512f", "avx2+fma", "baseline"].contains(String(cString: vm_selected_width())))
        var rng = SeededGenerator(seed: 5)
        for n in [0, 1, 3, 7, 8, 15, 16, 17, 33, 1000] {
            var a = (0..<n).map { _ in 3 * rng.normal() }
            if n > 3 { a[0] = -40; a[1] = 40; a[2] = 0 }
            let b = (0..<n).map { _ in rng.normal() }, g = (0..<n).map { _ in rng.normal() }
            var out = [Float](repeating: 0, count: n), da = [Float](repeating: 0.5, count: n), db = da
            vm_gated_gelu_tanh(a, b, &out, n)
            vm_gated_gelu_tanh_backward(a, b, g, &da, &db, n, 1, 1)
            // stored, not added: buffers holding NaN must come back clean
            var storedA = [Float](repeating: .nan, count: n), storedB = storedA, addedB = [Float](repeating: 0.5, count: n)
            vm_gated_gelu_tanh_backward(a, b, g, &storedA, &storedB, n, 0, 0)
            var mixedA = [Float](repeating: .nan, count: n)
            vm_gated_gelu_tanh_backward(a, b, g, &mixedA, &addedB, n, 0, 1)
            let expected = gatedGELUReference(a, b)
            for i in 0..<n {
                let (value, derivative) = geluTanhWithDerivative(a[i])
                XCTAssertEqual(out[i], expected[i], accuracy: 1e-6 + 1e-5 * abs(expected[i]), "forward, n \(n), x \(a[i])")
                XCTAssertEqual(da[i], 0.5 + g[i] * b[i] * derivative, accuracy: 1e-5, "da (accumulated), n \(n), x \(a[i])")
                XCTAssertEqual(db[i], 0.5 + g[i] * value, accuracy: 1e-5, "db (accumulated), n \(n), x \(a[i])")
                XCTAssertEqual(storedA[i], g[i] * b[i] * derivative, accuracy: 1e-5, "da (stored), n \(n), x \(a[i])")
                XCTAssertEqual(storedB[i], g[i] * value, accuracy: 1e-5, "db (stored), n \(n), x \(a[i])")
                XCTAssertEqual(mixedA[i], storedA[i], "da stored beside db added, n \(n)")
                XCTAssertEqual(addedB[i], db[i], "db added beside da stored, n \(n)")
            }
        }
    }

    /// Every width of the row kernel this CPU has against the textbook loop, all four transpose cases: row counts
    /// around each block size, past one and two passes of 192 rows, k past one 512 chunk, strided rows, overwrite and accumulate.
    func testRowKernelMatchesTheTextbookProductAtEveryWidth() {
        var rng = SeededGenerator(seed: 12)
        var ran = 0
        for level in [2, 1, 0] {
            for (m, n, k) in [(0, 16, 8), (1, 16, 1), (3, 32, 7), (5, 48, 0), (12, 16, 33), (13, 32, 128), (20, 128, 128),
                              (25, 16, 1030), (40, 64, 9), (192, 16, 5), (403, 32, 20)] {
                for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
                    // Row lengths with slack: A is [m, k] or [k, m], B [k, n] or [n, k].
                    let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 5
                    let a = (0..<((transA ? k : m) * lda + 1)).map { _ in rng.normal() }
                    let b = (0..<((transB ? n : k) * ldb + 1)).map { _ in rng.normal() }
                    let start = (0..<(max(1, m) * ldc)).map { _ in rng.normal() }
                    var product = [Float](repeating: 0, count: m * n)
                    for i in 0..<m { for j in 0..<n { for p in 0..<k {
                        product[i * n + j] += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j])
                    } } }
                    for accumulate in [0, 1] {
                        var c = start
                        guard vm_sgemm_rows_at(Int32(level), transA ? 1 : 0, transB ? 1 : 0, m, n, k, a, lda, b, ldb, &c, ldc,
                                               Int32(accumulate)) == 1 else { continue }
                        ran += 1
                        for i in 0..<max(1, m) { for j in 0..<ldc {
                            let base = accumulate == 1 || !(i < m && j < n) ? start[i * ldc + j] : 0
                            let want = base + (i < m && j < n ? product[i * n + j] : 0)
                            XCTAssertEqual(c[i * ldc + j], want, accuracy: 1e-4 * Float(max(1, k)).squareRoot(),
                                           "level \(level), \((m, n, k)), trans \((transA, transB)), accumulate \(accumulate), (\(i), \(j))")
                        } }
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(ran, 88, "the baseline width runs everywhere")
    }

    /// The bfloat16 kernel against the textbook product of the bfloat16-rounded inputs (float32 accumulation, so only
    /// the order of additions differs), all four transpose cases: odd and even k, k past one 512 chunk, row counts past
    /// one pass of 384 rows and around each block size, columns past the AMX kernel's 256-column block, strided rows,
    /// overwrite and accumulate.
    func testBFloat16KernelMatchesTheProductOfRoundedInputs() throws {
        try XCTSkipUnless(MatmulPrecision.bfloat16Available, "this CPU has no AVX512_BF16")
        try checkBFloat16Kernel(vm_sgemm_rows_bf16)
    }

    /// The vdpbf16ps kernel by itself (what runs where AMX is absent or `MSCGREC_AMX=0`), same cases.
    func testDotProductBFloat16KernelMatchesTheProductOfRoundedInputs() throws {
        try XCTSkipUnless(MatmulPrecision.bfloat16Available, "this CPU has no AVX512_BF16")
        try checkBFloat16Kernel(vm_sgemm_rows_dpbf16)
    }

    /// The AMX tile kernel by itself, same cases (its padding of rows to 16 and pairs to 16, the scratch tile for the
    /// last rows and the 2 × 2 / 1 × 2 / 2 × 1 / 1 × 1 blocks are all reached by them). Skipped where the CPU or the
    /// kernel (Linux grants tile state on request) gives no AMX.
    func testAMXKernelMatchesTheProductOfRoundedInputs() throws {
        try XCTSkipUnless(vm_has_amx() == 1, "this CPU has no AMX-BF16 (or Linux did not grant the tile state)")
        try checkBFloat16Kernel(vm_sgemm_rows_amx)
    }

    private typealias BFloat16Kernel = (Int32, Int32, Int, Int, Int, UnsafePointer<Float>?, Int, UnsafePointer<Float>?, Int,
                                        UnsafeMutablePointer<Float>?, Int, Int32) -> Int32

    private func checkBFloat16Kernel(_ kernel: BFloat16Kernel) throws {
        var rng = SeededGenerator(seed: 21)
        for (m, n, k) in [(1, 16, 1), (3, 32, 7), (13, 32, 128), (25, 16, 1031), (403, 48, 20), (800, 32, 33), (40, 272, 64), (12, 16, 0)] {
            for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
                let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 2
                let a = (0..<((transA ? k : m) * lda + 1)).map { _ in rng.normal() }
                let b = (0..<((transB ? n : k) * ldb + 1)).map { _ in rng.normal() }
                let start = (0..<(m * ldc)).map { _ in rng.normal() }
                for accumulate in [0, 1] {
                    var c = start
                    XCTAssertEqual(kernel(transA ? 1 : 0, transB ? 1 : 0, m, n, k, a, lda, b, ldb, &c, ldc, Int32(accumulate)), 1)
                    for i in 0..<m { for j in 0..<ldc {
                        var want = accumulate == 1 || j >= n ? Double(start[i * ldc + j]) : 0
                        if j < n { for p in 0..<k {
                            want += Double(vm_round_bf16(transA ? a[p * lda + i] : a[i * lda + p])) * Double(vm_round_bf16(transB ? b[j * ldb + p] : b[p * ldb + j]))
                        } }
                        XCTAssertEqual(Double(c[i * ldc + j]), want, accuracy: 1e-4 * Double(k + 1).squareRoot(),
                                       "\((m, n, k)), trans \((transA, transB)), accumulate \(accumulate), (\(i), \(j))")
                    } }
                }
            }
        }
    }

    /// Rounding to bfloat16 is to nearest, ties to even, with NaN kept and subnormals flushed as the instructions do.
    func testBFloat16RoundingByHand() {
        XCTAssertEqual(vm_round_bf16(1), 1)
        XCTAssertEqual(vm_round_bf16(1 + 1.0 / 256), 1)                      // a tie: to the even mantissa (1.0)
        XCTAssertEqual(vm_round_bf16(1 + 3.0 / 256), 1 + 4.0 / 256)          // a tie: to the even mantissa (1 + 2/128)
        XCTAssertEqual(vm_round_bf16(1 + 1.0 / 256 + 1.0 / 4096), 1 + 1.0 / 128)
        XCTAssertEqual(vm_round_bf16(-3.14159), -3.140625)
        XCTAssertTrue(vm_round_bf16(.nan).isNaN)
        XCTAssertEqual(vm_round_bf16(.infinity), .infinity)
        XCTAssertEqual(vm_round_bf16(1e-40), 0)
    }

    /// `auto` takes bfloat16 only where it measured more than 10% faster: Zen 5's 1.96× yes; Emerald Rapids' 0.71
    /// (half-rate vdpbf16ps), a level CPU or one without AVX512_BF16 no. Whatever it picks, `current` is never `auto`
    /// and agrees with the measurement of this machine.
    func testAutoPrecisionTakesBFloat16OnlyWhereItMeasuresFaster() {
        XCTAssertTrue(MatmulPrecision.autoChoosesBFloat16(speedup: 1.96))
        XCTAssertFalse(MatmulPrecision.autoChoosesBFloat16(speedup: 0.71))
        XCTAssertFalse(MatmulPrecision.autoChoosesBFloat16(speedup: 1.08))
        XCTAssertFalse(MatmulPrecision.autoChoosesBFloat16(speedup: nil))
        let chosen = MatmulPrecision.using(.auto) { MatmulPrecision.current }
        XCTAssertEqual(chosen, MatmulPrecision.effective(.auto))
        XCTAssertEqual(MatmulPrecision.current, .float32)
        if let speedup = MatmulPrecision.measuredBFloat16Speedup {
            XCTAssertTrue(speedup.isFinite && speedup > 0, "\(speedup)")
            XCTAssertEqual(chosen, speedup > 1.1 ? .bfloat16 : .float32)
        } else {
            XCTAssertFalse(MatmulPrecision.bfloat16Available)
            XCTAssertEqual(chosen, .float32)
        }
    }

    /// `MatmulPrecision.using` routes products through the bfloat16 kernel only inside its body, and restores float32.
    func testMatmulPrecisionIsScoped() throws {
        try XCTSkipUnless(MatmulPrecision.bfloat16Available, "this CPU has no AVX512_BF16")
        var rng = SeededGenerator(seed: 5)
        let a = Tensor(shape: [64, 96], scalars: (0..<(64 * 96)).map { _ in rng.normal() })
        let b = Tensor(shape: [96, 32], scalars: (0..<(96 * 32)).map { _ in rng.normal() })
        let exact = matmul(a, b).scalars
        let half = MatmulPrecision.using(.bfloat16) { matmul(a, b).scalars }
        XCTAssertEqual(MatmulPrecision.current, .float32)
        XCTAssertEqual(matmul(a, b).scalars, exact, "float32 again after the scope")
        var rounded = [Float](repeating: 0, count: 64 * 32)
        let ar = a.scalars.map(vm_round_bf16), br = b.scalars.map(vm_round_bf16)
        naiveMatmul(false, false, m: 64, n: 32, k: 96, ar, br, &rounded)
        var worst: Float = 0
        for i in 0..<rounded.count {
            XCTAssertEqual(half[i], rounded[i], accuracy: 1e-3)
            worst = max(worst, abs(half[i] - exact[i]))
        }
        XCTAssertGreaterThan(worst, 1e-3, "the scope really used bfloat16 inputs")
    }

    /// The vector softmax row against the Swift one: every tail length, masked (−∞) entries, a fully masked row.
    func testVectorSoftmaxRowMatchesTheReference() {
        var rng = SeededGenerator(seed: 4)
        for n in [1, 2, 4, 7, 16, 17, 40, 129] {
            var x = (0..<n).map { _ in 4 * rng.normal() }
            if n > 2 { x[1] = -.infinity }
            var fast = [Float](repeating: 0, count: n), slow = fast
            softmaxRow(x, &fast, n); softmaxRowReference(x, &slow, n)
            for j in 0..<n { XCTAssertEqual(fast[j], slow[j], accuracy: 1e-7 + 1e-6 * slow[j], "n \(n), j \(j)") }
            XCTAssertEqual(fast.reduce(0, +), 1, accuracy: 1e-5)
            softmaxRow(x, &x, n)   // in place, as attention calls it
            XCTAssertEqual(x, fast)
        }
        let masked = [Float](repeating: -.infinity, count: 9)
        var out = [Float](repeating: 7, count: 9)
        softmaxRow(masked, &out, 9)
        XCTAssertEqual(out, [Float](repeating: 0, count: 9))
    }

    /// Attention's plain-loop pair products (small pairs) against its BLAS ones on the same strided rows.
    func testDirectAttentionProductsMatchBLAS() {
        var rng = SeededGenerator(seed: 8)
        for (tq, tk, headDim) in [(1, 1, 32), (1, 4, 32), (2, 5, 7), (20, 40, 32), (3, 9, 64)] {
            let width = headDim * 3 + 5   // another head's columns and some slack between rows
            let q = (0..<(tq * width)).map { _ in rng.normal() }, k = (0..<(tk * width)).map { _ in rng.normal() }
            let p = (0..<(tq * tk)).map { _ in rng.uniform() }
            var scores = [[Float]](repeating: [Float](repeating: 0, count: tq * tk), count: 2)
            var mixed = [[Float]](repeating: [Float](repeating: -1, count: tq * width), count: 2)
            for (slot, direct) in [false, true].enumerated() {
                attentionScores(q, k, into: &scores[slot], width: width, tq: tq, tk: tk, headDim: headDim, scale: 0.3, direct: direct)
                attentionMix(p, k, into: &mixed[slot], width: width, tq: tq, tk: tk, headDim: headDim, direct: direct)
            }
            for (blas, direct) in zip(scores[0], scores[1]) { XCTAssertEqual(direct, blas, accuracy: 1e-5, "scores \((tq, tk, headDim))") }
            for (blas, direct) in zip(mixed[0], mixed[1]) { XCTAssertEqual(direct, blas, accuracy: 1e-5, "mix \((tq, tk, headDim))") }
        }
    }

    func testEightWideExpEqualsScalarFastExp() {
        for start in stride(from: Float(-90), to: 90, by: 0.37) {
            let xs = SIMD8<Float>((0..<8).map { start + Float($0) * 0.041 })
            let wide = fastExp(xs)
            for lane in 0..<8 { XCTAssertEqual(wide[lane].bitPattern, fastExp(xs[lane]).bitPattern, "x = \(xs[lane])") }
        }
    }

    func testRowReductionsMatchNaiveLoops() {
        var rng = SeededGenerator(seed: 9)
        for n in [0, 1, 7, 8, 9, 31, 100] {
            let x = (0..<n).map { _ in rng.normal() }, y = (0..<n).map { _ in rng.normal() }
            x.withUnsafeBufferPointer { px in
                y.withUnsafeBufferPointer { py in
                    let (a, b) = (px.baseAddress ?? UnsafePointer(bitPattern: 64)!, py.baseAddress ?? UnsafePointer(bitPattern: 64)!)
                    XCTAssertEqual(rowMax(a, n), x.max() ?? -.infinity)
                    XCTAssertEqual(rowSum(a, n), x.reduce(0, +), accuracy: 1e-5)
                    XCTAssertEqual(rowDot(a, b, n), zip(x, y).map(*).reduce(0, +), accuracy: 1e-5)
                    XCTAssertEqual(rowSumExpShifted(a, n, shift: 0.5), x.map { Foundation.exp($0 - 0.5) }.reduce(0, +), accuracy: 1e-4)
                }
            }
        }
    }

    /// Many rows, so the chunked parallel backward (per-chunk dw/db partials) is exercised, against composites.
    func testFusedNormsMatchCompositesOnManyRows() {
        var rng = SeededGenerator(seed: 12)
        let x1 = Tensor.normal([512, 32], using: &rng).requiringGrad(), x2 = x1.copy().requiringGrad()
        let w1 = Tensor.normal([32], using: &rng).requiringGrad(), w2 = w1.copy().requiringGrad()
        let b1 = Tensor.normal([32], using: &rng).requiringGrad(), b2 = b1.copy().requiringGrad()
        let seed = Tensor.normal([512, 32], using: &rng)
        x1.rmsNorm(weight: w1, eps: 1e-6).backward(seed: seed)
        (x2 * (x2.square().mean(axis: -1, keepDim: true) + 1e-6).rsqrt() * w2).backward(seed: seed)
        assertClose(x1.grad, x2.grad!, "rms dx", atol: 1e-4, rtol: 1e-3)
        assertClose(w1.grad, w2.grad!, "rms dw", atol: 1e-3, rtol: 1e-3)
        x1.grad = nil; w1.grad = nil; x2.grad = nil; w2.grad = nil
        x1.layerNorm(weight: w1, bias: b1, eps: 1e-5).backward(seed: seed)
        let centered = x2 - x2.mean(axis: -1, keepDim: true)
        (centered * (centered.square().mean(axis: -1, keepDim: true) + 1e-5).rsqrt() * w2 + b2).backward(seed: seed)
        assertClose(x1.grad, x2.grad!, "layer norm dx", atol: 1e-4, rtol: 1e-3)
        assertClose(w1.grad, w2.grad!, "layer norm dw", atol: 1e-3, rtol: 1e-3)
        assertClose(b1.grad, b2.grad!, "layer norm db", atol: 1e-3, rtol: 1e-3)
    }
}

import CBLAS
import CVectorMath
import SafeTensors
import Foundation
@testable import TensorEngine
import TestSupport
import XCTest

/// Data parallelism: shards of a batch run forward and backward at once over shared parameters.
final class DataParallelTests: XCTestCase {
    /// Two half-batch passes, each weighted by its share and collected in its own sink, add up to the gradient of
    /// one pass over the whole batch — the identity sharded training relies on.
    func testShardSinksAddUpToTheWholeBatchGradient() {
        var rng = SeededGenerator(seed: 11)
        let weight = Tensor.normal([6, 4], using: &rng).requiringGrad()
        let bias = Tensor.normal([4], using: &rng).requiringGrad()
        let inputs = Tensor.normal([10, 6], using: &rng)
        func loss(_ x: Tensor) -> Tensor { x.linear(weight, bias: bias).tanh().square().mean(axis: 0).sum(axis: 0) }

        loss(inputs).backward()
        let whole = (weight.grad!.scalars, bias.grad!.scalars)
        weight.grad = nil; bias.grad = nil

        let shards = [0..<3, 3..<10]
        let sinks = shards.map { _ in GradientSink() }
        Parallelism.forEachShard(shards.count) { s in
            let part = inputs.slice(axis: 0, start: shards[s].lowerBound, end: shards[s].upperBound)
            (loss(part) * (Float(shards[s].count) / 10)).backward(into: sinks[s])
        }
        XCTAssertNil(weight.grad, "a pass into a sink must leave the parameters' grad alone")
        addGradients(sinks, into: [weight, bias])
        assertClose(weight.grad!, Tensor(shape: [6, 4], scalars: whole.0), "dweight", atol: 1e-6, rtol: 1e-5)
        assertClose(bias.grad!, Tensor(shape: [4], scalars: whole.1), "dbias", atol: 1e-6, rtol: 1e-5)
    }

    /// Inside a shard the engine's loops run inline and OpenBLAS is held to one thread; both are restored after.
    func testShardsRunNestedLoopsInlineAndRestoreBLASThreads() {
        let savedWorkers = Parallelism.workers
        defer { Parallelism.workers = savedWorkers; Parallelism.setBLASThreads(1) }
        Parallelism.workers = 2
        Parallelism.setBLASThreads(2)
        var seen = [(inside: Bool, chunks: Int, blas: Int32)](repeating: (false, 0, 0), count: 2)
        seen.withUnsafeMutableBufferPointer { out in
            Parallelism.forEachShard(2) { shard in
                var chunks = 0
                Parallelism.forEachChunk(1 << 20, grain: 1) { _ in chunks += 1 }
                out[shard] = (Parallelism.insideShard, chunks, openblas_get_num_threads())
            }
        }
        for (shard, s) in seen.enumerated() {
            XCTAssertTrue(s.inside, "shard \(shard)")
            XCTAssertEqual(s.chunks, 1, "shard \(shard): a nested loop must not fan out again")
            XCTAssertEqual(s.blas, 1, "shard \(shard): BLAS must be single-threaded inside a shard")
        }
        XCTAssertFalse(Parallelism.insideShard)
        XCTAssertEqual(openblas_get_num_threads(), 2)
        var outsideChunks = 0
        Parallelism.forEachChunk(1 << 20, grain: 1 << 17) { _ in outsideChunks += 1 }
        XCTAssertGreaterThan(outsideChunks, 1, "outside shards the loop must split again")
    }

    /// Fixed chunks are the same ranges whatever the worker count (per-chunk reductions in the quantizer rely on it),
    /// cover the range once, and still fan out across workers.
    func testFixedChunksDependOnlyOnCountAndGrain() {
        let savedWorkers = Parallelism.workers
        defer { Parallelism.workers = savedWorkers }
        func ranges(workers: Int) -> [Range<Int>] {
            Parallelism.workers = workers
            let lock = NSLock()
            var seen: [Range<Int>] = []
            Parallelism.forEachFixedChunk(1000, grain: 64) { r in lock.lock(); seen.append(r); lock.unlock() }
            return seen.sorted { $0.lowerBound < $1.lowerBound }
        }
        let expected = stride(from: 0, to: 1000, by: 64).map { $0..<min(1000, $0 + 64) }
        XCTAssertEqual(ranges(workers: 1), expected)
        XCTAssertEqual(ranges(workers: 4), expected)
        var empty = 0
        Parallelism.forEachFixedChunk(0, grain: 8) { _ in empty += 1 }
        XCTAssertEqual(empty, 0)
    }

    /// Grad mode follows the caller into the shards (evaluation inside `withoutGrad` records nothing there).
    func testShardsInheritGradMode() {
        let parameter = Tensor.filled([4], value: 1).requiringGrad()
        var recorded = [true, true]
        recorded.withUnsafeMutableBufferPointer { out in
            withoutGrad {
                Parallelism.forEachShard(2) { shard in out[shard] = (parameter * parameter).requiresGrad }
            }
        }
        XCTAssertEqual(recorded, [false, false])
    }

    /// Every shard and chunk flushes denormals (Intel cores take a microcode assist per denormal operand, which made a
    /// float32 training step 2.3× slower), and the calling thread, which runs iterations too, gets its own mode back.
    /// SafeTensors' half reader still reads subnormal halves exactly there, where Swift's own conversion gives zero.
    func testWorkersFlushDenormals() {
        let savedWorkers = Parallelism.workers
        defer { Parallelism.workers = savedWorkers }
        Parallelism.workers = 2
        let callerMode = vm_flushes_denormals()
        let tiny = Float.leastNormalMagnitude / 64
        let smallestHalf = UInt16(ProcessInfo.processInfo.processIdentifier > 0 ? 1 : 2)   // not foldable at compile time
        XCTAssertTrue(tiny.isSubnormal)
        var flags = [Int32](repeating: 0, count: 2), products = [Float](repeating: -1, count: 2)
        var halves = [(ours: Float, swift: Float)](repeating: (0, 0), count: 2)
        flags.withUnsafeMutableBufferPointer { f in
            products.withUnsafeMutableBufferPointer { p in
                halves.withUnsafeMutableBufferPointer { h in
                    let (f, p, h) = (UncheckedSendable(f), UncheckedSendable(p), UncheckedSendable(h))
                    Parallelism.forEachShard(2) { shard in
                        f.value[shard] = vm_flushes_denormals()
                        let a = Tensor(shape: [1, 16], scalars: [Float](repeating: tiny, count: 16))
                        let b = Tensor(shape: [16, 16], scalars: [Float](repeating: 1, count: 256))
                        p.value[shard] = matmul(a, b).scalars[0]
                        h.value[shard] = (floatFromHalfBits(smallestHalf), Float(Float16(bitPattern: smallestHalf)))
                    }
                }
            }
        }
        XCTAssertEqual(flags, [1, 1], "each shard's thread flushes denormals")
        XCTAssertEqual(products, [0, 0], "a product of denormals gives zero")
        for (ours, swift) in halves {
            XCTAssertEqual(ours, 5.9604645e-08, "the smallest half subnormal reads exactly")
            XCTAssertEqual(swift, 0, "Swift's conversion reads it as zero here: the reason for SafeTensors' own")
        }
        XCTAssertEqual(vm_flushes_denormals(), callerMode, "the calling thread's mode is restored")
        var chunkFlags = [Int32](repeating: 0, count: 1 << 18)
        chunkFlags.withUnsafeMutableBufferPointer { f in
            let f = UncheckedSendable(f)
            Parallelism.forEachChunk(f.value.count) { range in for i in range { f.value[i] = vm_flushes_denormals() } }
        }
        XCTAssertEqual(Set(chunkFlags), [1], "every chunk's thread flushes denormals")
        XCTAssertEqual(vm_flushes_denormals(), callerMode)
    }
}

import Foundation
import CBLAS
import CVectorMath
import Dispatch

/// How the engine uses the machine's cores.
public enum Parallelism {
    /// Worker count for the engine's own elementwise and row loops (not BLAS).
    nonisolated(unsafe) public static var workers = max(1, min(8, ProcessInfo.processInfo.activeProcessorCount))

    /// Sets OpenBLAS's own thread count. Call with 1 inside code that is already parallel across
    /// requests or shards (the server): nested BLAS threads only contend for the same cores.
    public static func setBLASThreads(_ count: Int) { openblas_set_num_threads(Int32(max(1, count))) }

    /// True on a thread that is itself one of `forEachShard`'s workers: the cores are already busy, so loops
    /// nested inside a shard run inline instead of fanning out again.
    @TaskLocal static var insideShard = false

    /// Workers available to a loop started here: `workers`, or 1 inside a shard.
    static var availableWorkers: Int { insideShard ? 1 : workers }

    /// Runs `body(shard)` for `0..<count` at once, one thread each, flushing denormals (see `vm_flush_denormals`),
    /// with OpenBLAS held to one thread and the engine's own loops inline inside each shard: data parallelism for batches whose single ops are too small to split well
    /// (SASRec at d = 64). Grad mode is carried into the shards. Call from one thread at a time (OpenBLAS's thread
    /// count is process-wide).
    public static func forEachShard(_ count: Int, _ body: (Int) -> Void) {
        guard count > 1, !insideShard else { for shard in 0..<count { body(shard) }; return }
        let blasThreads = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(blasThreads) }
        let recordsGraph = GradMode.isEnabled
        withoutActuallyEscaping(body) { escapable in
            let shared = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: count) { shard in
                // The calling thread runs iterations too: restore its mode after, so only the loop's work changes.
                let mode = vm_flush_denormals()
                defer { vm_restore_float_mode(mode) }
                $insideShard.withValue(true) {
                    GradMode.$isEnabled.withValue(recordsGraph) { shared.value(shard) }
                }
            }
        }
    }

    /// Runs `body` over `0..<count` in contiguous chunks, in parallel when the work is large enough.
    @inline(__always)
    public static func forEachChunk(_ count: Int, grain: Int = 1 << 17, _ body: (Range<Int>) -> Void) {
        // Up to four chunks per worker, handed out dynamically: a worker that is descheduled (a busy machine)
        // then delays only its current chunk, not a fixed half of the work.
        if count < 2 * grain { body(0..<count); return }
        let workers = availableWorkers
        let chunks = workers <= 1 ? 1 : min(workers * 4, max(1, count / grain))
        if chunks <= 1 { body(0..<count); return }
        runChunks(count, chunks: chunks, size: (count + chunks - 1) / chunks, body)
    }

    /// Chunk c is `c·size ..< min(count, (c+1)·size)`; each runs on a worker that flushes denormals.
    private static func runChunks(_ count: Int, chunks: Int, size: Int, _ body: (Range<Int>) -> Void) {
        withoutActuallyEscaping(body) { escapable in
            // The chunks write disjoint ranges, so handing the closure to the workers is safe.
            let shared = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let mode = vm_flush_denormals()
                defer { vm_restore_float_mode(mode) }
                let start = c * size
                let end = min(count, start + size)
                if start < end { shared.value(start..<end) }
            }
        }
    }

    /// Runs `body` over `0..<count` in chunks of `grain` (the last one shorter), in parallel when there are several.
    /// Unlike `forEachChunk`, the split depends only on `count` and `grain`, never on the machine's cores, so a loop that
    /// keeps state per chunk (partial sums, scratch) gives identical bits on any machine (the quantizer relies on it).
    public static func forEachFixedChunk(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        precondition(grain > 0, "chunk grain must be positive, not \(grain)")
        let chunks = (count + grain - 1) / grain
        if chunks <= 1 || availableWorkers <= 1 {
            var start = 0
            while start < count { body(start..<min(count, start + grain)); start += grain }
            return
        }
        runChunks(count, chunks: chunks, size: grain, body)
    }
}

/// Carries a value the compiler cannot prove Sendable across a boundary we have checked by hand (at every use).
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}

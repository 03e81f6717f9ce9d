import Foundation

/// A contiguous, 64-byte aligned Float32 buffer shared by a tensor and its reshaped views.
///
/// Storage is reference-counted so that `reshape` and `detach` are free; code that writes into a
/// storage in place (optimisers, kernels filling a fresh output) must own it exclusively.
public final class Storage: @unchecked Sendable {
    // @unchecked: a storage is written only while it is being built or, for parameters, by the single
    // thread that runs the optimiser; everywhere else it is read-only, so sharing it across threads is safe.
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>
    private let capacity: Int

    public init(count: Int) {
        precondition(count >= 0, "negative storage size \(count)")
        self.count = count
        (pointer, capacity) = BufferPool.take(count)
    }

    public convenience init(zeros count: Int) {
        self.init(count: count)
        pointer.initialize(repeating: 0, count: count)
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.initialize(from: base, count: values.count) }
        }
    }

    deinit { BufferPool.give(pointer, capacity: capacity) }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// Recycles large buffers: training allocates the same big activations every step, and fresh pages from the
/// kernel (faulted in and zeroed) cost more than the arithmetic on them. Sizes are rounded up to classes
/// (3 mantissa bits, ≤ 12.5% waste) so batches of slightly different shapes share buffers.
enum BufferPool {
    /// Buffers smaller than this come straight from malloc, which is fast for them.
    static let minimumPooled = 1 << 16
    /// Upper bound on idle pooled memory: above one training step's working set (all of it comes back to the pool at
    /// the end of the step, so a bound below it would free and fault in the excess every step), a quarter of RAM at most.
    nonisolated(unsafe) static var limitBytes = min(8 << 30, Int(ProcessInfo.processInfo.physicalMemory / 4))
    private static let lock = NSLock()
    nonisolated(unsafe) private static var idle: [Int: [UnsafeMutablePointer<Float>]] = [:]
    nonisolated(unsafe) private static var idleBytes = 0

    static func sizeClass(_ count: Int) -> Int {
        guard count > minimumPooled else { return max(count, 1) }
        let shift = (Int.bitWidth - count.leadingZeroBitCount) - 4      // keep the top 4 bits
        let unit = 1 << shift
        return (count + unit - 1) / unit * unit
    }

    static func take(_ count: Int) -> (UnsafeMutablePointer<Float>, Int) {
        let capacity = sizeClass(count)
        if capacity > minimumPooled {
            lock.lock()
            // Best fit up to twice the size: batches of varying length (MSCGRec's histories) then reuse the buffers
            // of longer ones instead of faulting in fresh pages for every new shape.
            var chosen = capacity
            if idle[capacity]?.isEmpty ?? true {
                chosen = idle.keys.filter { $0 > capacity && $0 <= 2 * capacity && !(idle[$0]?.isEmpty ?? true) }.min() ?? capacity
            }
            if let pointer = idle[chosen]?.popLast() {
                idleBytes -= chosen * 4
                lock.unlock()
                return (pointer, chosen)
            }
            lock.unlock()
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: capacity * MemoryLayout<Float>.stride, alignment: 64)
        return (raw.bindMemory(to: Float.self, capacity: capacity), capacity)
    }

    static func give(_ pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        if capacity > minimumPooled {
            lock.lock()
            if idleBytes + capacity * 4 <= limitBytes {
                idle[capacity, default: []].append(pointer)
                idleBytes += capacity * 4
                lock.unlock()
                return
            }
            lock.unlock()
        }
        UnsafeMutableRawPointer(pointer).deallocate()
    }
}

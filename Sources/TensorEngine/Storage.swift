/// A contiguous, 64-byte aligned Float32 buffer shared by a tensor and its reshaped views.
///
/// Storage is reference-counted so that `reshape` and `detach` are free; code that writes into a
/// storage in place (optimisers, kernels filling a fresh output) must own it exclusively.
public final class Storage: @unchecked Sendable {
    // @unchecked: a storage is written only while it is being built or, for parameters, by the single
    // thread that runs the optimiser; everywhere else it is read-only, so sharing it across threads is safe.
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    public init(count: Int) {
        precondition(count >= 0, "negative storage size \(count)")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
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

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

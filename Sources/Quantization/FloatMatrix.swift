import Foundation
import TensorEngine

/// A dense row-major Float32 matrix over the engine's `Storage` (64-byte aligned, pooled): the embeddings being
/// quantized and the codebooks. A class so a million-row matrix is never copied by accident; callers own mutation
/// (it is written while being loaded or trained, then only read, which is why sharing it across threads is safe).
public final class FloatMatrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let storage: Storage
    public var pointer: UnsafeMutablePointer<Float> { storage.pointer }

    /// A zero-filled matrix.
    public init(rows: Int, columns: Int) {
        precondition(rows >= 0 && columns >= 0, "negative matrix size \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        storage = Storage(zeros: rows * columns)
    }

    public init(rows: Int, columns: Int, scalars: [Float]) {
        precondition(scalars.count == rows * columns, "\(scalars.count) values for a \(rows)×\(columns) matrix")
        self.rows = rows
        self.columns = columns
        storage = Storage(scalars)
    }

    /// A rank-2 tensor's values, shared rather than copied.
    public init(_ tensor: Tensor) {
        precondition(tensor.rank == 2, "a matrix from a tensor of shape \(tensor.shape)")
        rows = tensor.shape[0]
        columns = tensor.shape[1]
        storage = tensor.storage
    }

    /// The same values as a leaf tensor of shape [rows, columns], shared rather than copied.
    public var tensor: Tensor { Tensor(shape: [rows, columns], sharing: storage) }

    public var count: Int { rows * columns }
    public var scalars: [Float] { storage.array }

    @inline(__always) public func row(_ index: Int) -> UnsafeMutablePointer<Float> { pointer + index * columns }

    public func rowArray(_ index: Int) -> [Float] { Array(UnsafeBufferPointer(start: row(index), count: columns)) }

    public func copy() -> FloatMatrix {
        let result = FloatMatrix(rows: rows, columns: columns)
        result.pointer.update(from: pointer, count: count)
        return result
    }

    /// The given rows, in the given order, as a new matrix.
    public func gathering(rows indices: [Int]) -> FloatMatrix {
        let result = FloatMatrix(rows: indices.count, columns: columns)
        for (target, source) in indices.enumerated() { result.row(target).update(from: row(source), count: columns) }
        return result
    }

    /// Scales every row to unit L2 norm (rows of norm zero stay zero).
    public func normalizeRows() {
        let d = columns
        Parallelism.forEachFixedChunk(rows, grain: 2048) { range in
            for r in range {
                let p = self.row(r)
                let norm = dot(p, p, d).squareRoot()
                if norm > 0 { for j in 0..<d { p[j] /= norm } }
            }
        }
    }

    /// Sum of squared entries in Float64 (for relative errors).
    public func squaredNorm() -> Double {
        var total = 0.0
        for r in 0..<rows { total += Double(dot(row(r), row(r), columns)) }
        return total
    }
}

// MARK: vector kernels (SIMD with a fixed accumulation order, so results do not depend on the caller)

/// Σ a[i]·b[i] over n floats.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 16 <= n {
        acc0 += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        acc1 += ra.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
        i += 16
    }
    var total = (acc0 + acc1).sum()
    while i < n { total += a[i] * b[i]; i += 1 }
    return total
}

/// ‖a − b‖² over n floats.
@inline(__always)
func squaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 16 <= n {
        let d0 = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        let d1 = ra.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self) - rb.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
        acc0 += d0 * d0
        acc1 += d1 * d1
        i += 16
    }
    var total = (acc0 + acc1).sum()
    while i < n { let t = a[i] - b[i]; total += t * t; i += 1 }
    return total
}

/// The textbook loop, the reference the SIMD kernels are tested against.
func naiveSquaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
    var total = 0.0
    for i in 0..<n { let t = Double(a[i]) - Double(b[i]); total += t * t }
    return total
}

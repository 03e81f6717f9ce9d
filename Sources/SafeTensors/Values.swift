// Converting between raw little-endian tensor bytes and Swift numbers.
import Foundation

extension SafeTensors {
    /// The tensor's values as Float. F64 values are rounded to nearest; F16/BF16 widen exactly.
    public func floats(_ name: String) throws -> [Float] {
        let entry = try entry(name)
        switch entry.dtype {
        case .F32: return loadLittleEndian(entry.bytes, as: UInt32.self).map(Float.init(bitPattern:))
        case .F16: return loadLittleEndian(entry.bytes, as: UInt16.self).map(floatFromHalfBits)
        // bfloat16 is the top half of a float32.
        case .BF16: return loadLittleEndian(entry.bytes, as: UInt16.self).map { Float(bitPattern: UInt32($0) << 16) }
        case .F64: return loadLittleEndian(entry.bytes, as: UInt64.self).map { Float(Double(bitPattern: $0)) }
        default:
            throw SafeTensorsError("tensor '\(name)' has dtype \(entry.dtype); floats() reads F32, F16, BF16 or F64")
        }
    }

    /// The tensor's values as Int (BOOL as 0/1). U64 values above Int.max are an error.
    public func ints(_ name: String) throws -> [Int] {
        let entry = try entry(name)
        switch entry.dtype {
        case .I64: return loadLittleEndian(entry.bytes, as: Int64.self).map { Int($0) }
        case .I32: return loadLittleEndian(entry.bytes, as: Int32.self).map { Int($0) }
        case .I16: return loadLittleEndian(entry.bytes, as: Int16.self).map { Int($0) }
        case .I8: return loadLittleEndian(entry.bytes, as: Int8.self).map { Int($0) }
        case .U8: return entry.bytes.map { Int($0) }
        case .U16: return loadLittleEndian(entry.bytes, as: UInt16.self).map { Int($0) }
        case .U32: return loadLittleEndian(entry.bytes, as: UInt32.self).map { Int($0) }
        case .BOOL: return entry.bytes.map { $0 == 0 ? 0 : 1 }
        case .U64:
            let values = loadLittleEndian(entry.bytes, as: UInt64.self)
            if let index = values.firstIndex(where: { $0 > UInt64(Int.max) }) {
                throw SafeTensorsError("tensor '\(name)': U64 value \(values[index]) at index \(index) does not fit in Int")
            }
            return values.map { Int($0) }
        case .F64, .F32, .F16, .BF16:
            throw SafeTensorsError("tensor '\(name)' has dtype \(entry.dtype); ints() reads integer or BOOL tensors")
        }
    }

    /// Adds or replaces an F32 tensor. `floats.count` must match the shape.
    public mutating func add(_ name: String, shape: [Int], floats: [Float]) {
        add(name, entry: makeEntry(.F32, shape: shape, values: floats.map(\.bitPattern)))
    }

    /// Adds or replaces an I64 tensor. `int64s.count` must match the shape.
    public mutating func add(_ name: String, shape: [Int], int64s: [Int64]) {
        add(name, entry: makeEntry(.I64, shape: shape, values: int64s))
    }

    /// Adds or replaces an I32 tensor. `int32s.count` must match the shape.
    public mutating func add(_ name: String, shape: [Int], int32s: [Int32]) {
        add(name, entry: makeEntry(.I32, shape: shape, values: int32s))
    }
}

private func makeEntry<T: FixedWidthInteger>(_ dtype: SafeTensorDType, shape: [Int], values: [T]) -> SafeTensorEntry {
    precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == values.count,
                 "\(values.count) values do not fill shape \(shape)")
    let bytes = values.map(\.littleEndian).withUnsafeBytes { Data($0) }
    return SafeTensorEntry(dtype: dtype, shape: shape, bytes: bytes)
}

/// Reads consecutive little-endian integers; `bytes` need not be aligned.
private func loadLittleEndian<T: FixedWidthInteger>(_ bytes: Data, as type: T.Type) -> [T] {
    let count = bytes.count / MemoryLayout<T>.size
    return bytes.withUnsafeBytes { raw in
        (0..<count).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
    }
}

/// An IEEE half's value as Float, by its bits alone. Swift's `Float(Float16)` (software on baseline x86-64) passes a
/// subnormal half through a denormal float, which reads as zero on the engine's threads (they treat denormal inputs as
/// zero for speed; `vm_flush_denormals`).
public func floatFromHalfBits(_ half: UInt16) -> Float {
    let sign = UInt32(half & 0x8000) << 16
    var exponent = Int32((half >> 10) & 0x1f), mantissa = UInt32(half & 0x3ff)
    if exponent == 0x1f {   // infinities; NaNs keep their payload and come out quiet, as the hardware converts them
        return Float(bitPattern: sign | 0x7f80_0000 | mantissa << 13 | (mantissa == 0 ? 0 : 0x0040_0000))
    }
    if exponent == 0 {
        if mantissa == 0 { return Float(bitPattern: sign) }
        exponent = 1   // subnormal: m · 2⁻²⁴; shift its leading one into the implicit bit
        while mantissa & 0x400 == 0 { mantissa <<= 1; exponent -= 1 }
        mantissa &= 0x3ff
    }
    return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | mantissa << 13)
}

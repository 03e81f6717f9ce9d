import Foundation

#if _endian(big)
#error("the binary files are read and written as little-endian memory images")
#endif

/// The writing half of our binary-file convention: a magic, a UInt32 format version, little-endian fields, and a
/// trailing 64-bit FNV-1a checksum of everything before it (`finished()`). `ByteReader` is the reading half.
public struct ByteWriter {
    public private(set) var data = Data()

    /// Starts a file with its magic and format version.
    public init(magic: String, version: UInt32) {
        data.append(contentsOf: Array(magic.utf8))
        append(version)
    }

    public mutating func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }

    /// UInt32 byte count, then the UTF-8 bytes.
    public mutating func append(_ text: String) { appendString(Array(text.utf8)) }

    /// UInt32 byte count, then the bytes (already UTF-8, e.g. encoded JSON).
    public mutating func appendString(_ utf8: [UInt8]) {
        append(UInt32(utf8.count))
        data.append(contentsOf: utf8)
    }

    /// Raw array contents, no count (the reader knows it from earlier fields).
    public mutating func append<T: BitwiseCopyable>(contentsOf values: [T]) {
        values.withUnsafeBytes { data.append(contentsOf: $0) }
    }

    /// A section: UInt64 byte length, then the raw contents (for arrays whose count the reader checks against a header).
    public mutating func appendSection<T: BitwiseCopyable>(_ values: [T]) {
        values.withUnsafeBytes { raw in
            append(UInt64(raw.count))
            data.append(contentsOf: raw)
        }
    }

    public mutating func appendBytes(_ bytes: [UInt8]) { data.append(contentsOf: bytes) }

    /// The bytes plus their checksum.
    public func finished() -> Data { sealed(data) }
}

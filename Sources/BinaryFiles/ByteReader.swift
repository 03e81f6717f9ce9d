import Foundation

/// The reading half of our binary-file convention (see `ByteWriter`): bounds-checked, and every failure names the
/// file and the field being read.
public struct ByteReader {
    public let data: Data
    public let path: String
    public private(set) var offset = 0

    /// Checks, in this order, the magic, the format version and the trailing checksum: a file of another version is
    /// refused by its version (which says what to do) rather than by a checksum it may compute differently, and field
    /// errors after this point mean a wrong writer, not a torn file. `kind` names the format in messages.
    public init(data: Data, path: String, magic: String, version expected: UInt32, kind: String) throws {
        self.data = data
        self.path = path
        let magicBytes = Array(magic.utf8)
        guard data.count >= magicBytes.count, Array(data.prefix(magicBytes.count)) == magicBytes else {
            throw BinaryFileError.malformed(path: path, field: "magic", reason: "not a \(kind) file")
        }
        offset = magicBytes.count
        guard data.count >= offset + 4 + checksumByteCount else {
            throw BinaryFileError.malformed(path: path, field: "checksum", reason: "the file ends before it (truncated file)")
        }
        let found = data.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        guard found == expected else {
            throw BinaryFileError.malformed(path: path, field: "version", reason: "format version \(found); this build reads version \(expected)")
        }
        offset += 4
        let body = data.prefix(data.count - checksumByteCount)
        let stored = data.suffix(checksumByteCount).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard fnv1a(body) == stored else {
            throw BinaryFileError.malformed(path: path, field: "checksum", reason: "does not match the contents (truncated or damaged file)")
        }
    }

    public var remainingBeforeChecksum: Int { data.count - checksumByteCount - offset }

    public mutating func read<T: FixedWidthInteger>(_ type: T.Type, field: String) throws -> T {
        let size = MemoryLayout<T>.size
        guard remainingBeforeChecksum >= size else { throw truncated(field) }
        let value = data.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        offset += size
        return value
    }

    /// A UInt64 count, refused above `limit` before it is used for any arithmetic.
    public mutating func readCount(field: String, limit: Int = Int(Int32.max)) throws -> Int {
        let value = try read(UInt64.self, field: field)
        guard value <= UInt64(limit) else { throw fail(field, "\(value) is too large") }
        return Int(value)
    }

    /// The bytes of a UInt32-counted string.
    public mutating func readStringBytes(field: String) throws -> Data {
        let count = Int(try read(UInt32.self, field: field))
        guard remainingBeforeChecksum >= count else { throw truncated(field) }
        let bytes = data[data.startIndex + offset..<data.startIndex + offset + count]
        offset += count
        return bytes
    }

    public mutating func readString(field: String) throws -> String {
        guard let text = String(data: try readStringBytes(field: field), encoding: .utf8) else { throw fail(field, "not UTF-8") }
        return text
    }

    public mutating func readArray<T: BitwiseCopyable>(_ type: T.Type, count: Int, field: String) throws -> [T] {
        let size = MemoryLayout<T>.stride
        guard count >= 0, remainingBeforeChecksum / size >= count else { throw truncated(field) }
        return copy(count: count, size: size)
    }

    /// A section written by `appendSection`: UInt64 byte length (a claim, bounded by the file before use), contents.
    public mutating func readSection<T: BitwiseCopyable>(_ type: T.Type, field: String) throws -> [T] {
        let declared = try read(UInt64.self, field: field)
        guard declared <= UInt64(remainingBeforeChecksum) else { throw fail(field, "longer than the file") }
        let size = MemoryLayout<T>.stride
        guard Int(declared) % size == 0 else { throw fail(field, "section length \(declared) is not a multiple of \(size)") }
        return copy(count: Int(declared) / size, size: size)
    }

    public func expectEnd() throws {
        guard remainingBeforeChecksum == 0 else { throw fail("end", "\(remainingBeforeChecksum) unexpected bytes after the last field") }
    }

    public func fail(_ field: String, _ reason: String) -> BinaryFileError { .malformed(path: path, field: field, reason: reason) }

    private mutating func copy<T: BitwiseCopyable>(count: Int, size: Int) -> [T] {
        let start = offset
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            data.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start..<start + count * size]))
            }
            initialized = count
        }
        offset += count * size
        return values
    }

    private func truncated(_ field: String) -> BinaryFileError { fail(field, "file ends inside this field") }
}

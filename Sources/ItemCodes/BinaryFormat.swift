import Foundation

/// Little-endian binary writing for the codes and prefix-tree files, with a trailing FNV-1a checksum.
struct ByteWriter {
    private(set) var data = Data()

    mutating func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }

    mutating func append(_ text: String) {
        let bytes = Array(text.utf8)
        append(UInt32(bytes.count))
        data.append(contentsOf: bytes)
    }

    /// Raw little-endian array contents (this code only runs on little-endian hosts, checked at compile time).
    mutating func append<T: FixedWidthInteger>(contentsOf values: [T]) {
        values.withUnsafeBytes { data.append(contentsOf: $0) }
    }

    mutating func appendBytes(_ bytes: [UInt8]) { data.append(contentsOf: bytes) }

    /// The bytes plus their checksum.
    func finished() -> Data {
        var out = data
        withUnsafeBytes(of: fnv1a(data).littleEndian) { out.append(contentsOf: $0) }
        return out
    }
}

#if _endian(big)
#error("the codes and prefix-tree files are read and written as little-endian memory images")
#endif

/// Bounds-checked reading; every failure names the file and the field being read.
struct ByteReader {
    let data: Data
    let path: String
    private(set) var offset = 0

    /// Checks the magic and the trailing checksum up front, so field errors below mean a wrong writer, not a torn file.
    init(data: Data, path: String, magic: String) throws {
        self.data = data
        self.path = path
        let magicBytes = Array(magic.utf8)
        guard data.count >= magicBytes.count + 8, Array(data.prefix(magicBytes.count)) == magicBytes else {
            throw CodesError.malformed(path: path, field: "magic", reason: "not a \(magic) file")
        }
        let body = data.prefix(data.count - 8)
        let stored = data.suffix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard fnv1a(body) == stored else {
            throw CodesError.malformed(path: path, field: "checksum", reason: "does not match the contents (truncated or damaged file)")
        }
        offset = magicBytes.count
    }

    var remainingBeforeChecksum: Int { data.count - 8 - offset }

    mutating func read<T: FixedWidthInteger>(_ type: T.Type, field: String) throws -> T {
        let size = MemoryLayout<T>.size
        guard remainingBeforeChecksum >= size else { throw truncated(field) }
        let value = data.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        offset += size
        return value
    }

    mutating func readCount(field: String, limit: Int = Int(Int32.max)) throws -> Int {
        let value = try read(UInt64.self, field: field)
        guard value <= UInt64(limit) else { throw CodesError.malformed(path: path, field: field, reason: "\(value) is too large") }
        return Int(value)
    }

    mutating func readString(field: String) throws -> String {
        let count = Int(try read(UInt32.self, field: field))
        guard remainingBeforeChecksum >= count else { throw truncated(field) }
        let bytes = data[data.startIndex + offset..<data.startIndex + offset + count]
        offset += count
        guard let text = String(data: bytes, encoding: .utf8) else {
            throw CodesError.malformed(path: path, field: field, reason: "not UTF-8")
        }
        return text
    }

    mutating func readArray<T: FixedWidthInteger>(_ type: T.Type, count: Int, field: String) throws -> [T] {
        let size = MemoryLayout<T>.size
        guard count >= 0, remainingBeforeChecksum / size >= count else { throw truncated(field) }
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

    func expectEnd() throws {
        guard remainingBeforeChecksum == 0 else {
            throw CodesError.malformed(path: path, field: "end", reason: "\(remainingBeforeChecksum) unexpected bytes after the last field")
        }
    }

    func fail(_ field: String, _ reason: String) -> CodesError { .malformed(path: path, field: field, reason: reason) }

    private func truncated(_ field: String) -> CodesError { .malformed(path: path, field: field, reason: "file ends inside this field") }
}

/// 64-bit FNV-1a: cheap, and enough to catch truncation and bit rot (not an authenticity check).
package func fnv1a(_ data: Data) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    data.withUnsafeBytes { raw in
        for byte in raw { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    }
    return hash
}

/// Writes to a temporary sibling and renames it into place, so readers never see half a file.
package func writeAtomically(_ data: Data, to url: URL) throws {
    let temporary = url.deletingLastPathComponent()
        .appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
    do {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: temporary)
        // rename(2) replaces the destination atomically.
        guard rename(temporary.path, url.path) == 0 else {
            throw CodesError.unreadable(path: url.path, reason: "cannot rename \(temporary.path) into place: \(String(cString: strerror(errno)))")
        }
    } catch let error as CodesError {
        try? FileManager.default.removeItem(at: temporary)
        throw error
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw CodesError.unreadable(path: url.path, reason: "cannot write: \(error.localizedDescription)")
    }
}

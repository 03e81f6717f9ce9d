import BinaryFiles
import CZlib
import Foundation

/// Reads `dataset.bin` version 1 (written before 2026-12-06): the layout of version 2 with a UInt32 CRC-32 trailer in
/// place of the FNV-1a one. Re-preparing would replace the whole work directory (codes, SASRec inputs), so old files
/// are checked with their own checksum and handed to the current reader as the version-2 file they correspond to.
enum LegacyPreparedFile {
    static let version: UInt32 = 1

    /// The version-2 bytes of a valid version-1 file; nil when `bytes` is not a version-1 file (the current reader
    /// then reports what it is).
    static func upgraded(_ data: Data, path: String) throws -> Data? {
        let magic = Array(PreparedFile.magic.utf8)
        guard data.count >= magic.count + 4, data.prefix(magic.count).elementsEqual(magic), load(data, at: magic.count) == version else { return nil }
        let bytes = [UInt8](data)
        guard bytes.count >= magic.count + 8 else {
            throw BinaryFileError.malformed(path: path, field: "checksum", reason: "the file ends before it (truncated file)")
        }
        let body = bytes[..<(bytes.count - 4)]
        let stored: UInt32 = load(bytes, at: bytes.count - 4)
        guard crc32(body) == stored else {
            throw BinaryFileError.malformed(path: path, field: "checksum", reason: "does not match the contents (truncated or damaged file)")
        }
        var upgraded = Array(body)
        withUnsafeBytes(of: PreparedFile.version.littleEndian) { upgraded.replaceSubrange(magic.count..<magic.count + 4, with: $0) }
        return sealed(upgraded)
    }

    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.withUnsafeBytes { raw in
            // zlib's crc32 takes a 32-bit length; feed large inputs in chunks.
            var crc = CZlib.crc32(0, nil, 0)
            var offset = 0
            while offset < raw.count {
                let length = min(raw.count - offset, 1 << 30)
                crc = CZlib.crc32(crc, raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self), UInt32(length))
                offset += length
            }
            return UInt32(crc)
        }
    }

    private static func load<Bytes: ContiguousBytes>(_ bytes: Bytes, at offset: Int) -> UInt32 {
        bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    }
}

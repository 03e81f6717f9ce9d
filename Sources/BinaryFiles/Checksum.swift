import Foundation

/// The one checksum of our binary files (codes, prefix trees, prepared datasets) and of the pipeline's content
/// digests: 64-bit FNV-1a. Cheap, and enough to catch truncation and bit rot (not an authenticity check; bundles
/// carry SHA-256 for that).
public func fnv1a(_ bytes: some ContiguousBytes) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    bytes.withUnsafeBytes { raw in
        for byte in raw { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    }
    return hash
}

/// `body` followed by its checksum trailer: what `ByteWriter.finished()` produces, for tests and fuzz targets that
/// craft a file's body and need it to pass the checksum so the structure checks behind it are reached.
public func sealed(_ body: some ContiguousBytes) -> Data {
    var out = body.withUnsafeBytes { Data($0) }
    withUnsafeBytes(of: fnv1a(body).littleEndian) { out.append(contentsOf: $0) }
    return out
}

/// Bytes of the checksum trailer at the end of every file.
public let checksumByteCount = 8

import CZlib
import Foundation

/// The binary form of a prepared dataset (`dataset.bin`), built to load in one read and a few memcpys:
///
///     "MSCGPREP"  UInt32 version  UInt32 headerLength  header JSON (PreparedInfo)
///     sections, each UInt64 byteLength + bytes:  offsets Int64[users+1], items Int32[interactions],
///         timestamps Float64[interactions or 0], user-id offsets UInt32[users+1], user-id UTF-8 bytes
///     UInt32 CRC-32 of everything before it
///
/// All numbers little-endian. A reader refuses other versions, truncation and checksum mismatches.
public enum PreparedFile {
    public static let fileName = "dataset.bin"
    public static let version: UInt32 = 1
    static let magic = Array("MSCGPREP".utf8)

    public static func encode(_ dataset: PreparedDataset) throws -> [UInt8] {
        precondition(1.littleEndian == 1, "prepared files are little-endian; big-endian hosts are not supported")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let header = try encoder.encode(dataset.info)
        let sequences = dataset.sequences
        var out: [UInt8] = magic
        append(version, to: &out)
        append(UInt32(header.count), to: &out)
        out.append(contentsOf: header)
        appendSection(sequences.offsets.map { Int64($0) }, to: &out)
        appendSection(sequences.items, to: &out)
        appendSection(sequences.timestamps ?? [], to: &out)
        var idOffsets: [UInt32] = [0]
        var idBytes: [UInt8] = []
        for id in sequences.userIDs {
            idBytes.append(contentsOf: id.utf8)
            idOffsets.append(UInt32(idBytes.count))
        }
        appendSection(idOffsets, to: &out)
        appendSection(idBytes, to: &out)
        append(checksum(out[...]), to: &out)
        return out
    }

    public static func decode(_ bytes: [UInt8], path: String) throws -> PreparedDataset {
        func bad(_ reason: String) -> DatasetError { .badPreparedData(path: path, reason: reason) }
        guard bytes.count >= 20, Array(bytes[0..<8]) == magic else { throw bad("not a prepared dataset file") }
        let storedSum: UInt32 = load(bytes, at: bytes.count - 4)
        guard storedSum == checksum(bytes[..<(bytes.count - 4)]) else { throw bad("checksum mismatch (truncated or corrupt)") }
        let fileVersion: UInt32 = load(bytes, at: 8)
        guard fileVersion == version else { throw bad("format version \(fileVersion); this build reads version \(version)") }
        let headerLength = Int(load(bytes, at: 12) as UInt32)
        var position = 16 + headerLength
        guard position <= bytes.count - 4 else { throw bad("truncated header") }
        let info: PreparedInfo
        do { info = try JSONDecoder().decode(PreparedInfo.self, from: Data(bytes[16..<position])) } catch {
            throw bad("unreadable header: \(error)")
        }
        func section<T>(_ type: T.Type, _ name: String, count: Int?) throws -> [T] {
            guard position + 8 <= bytes.count - 4 else { throw bad("truncated before section \(name)") }
            let declared = load(bytes, at: position) as UInt64
            position += 8
            // Compared as UInt64 before converting: a length above Int.max must be an error, not a trap.
            guard declared <= UInt64(bytes.count - 4 - position) else { throw bad("section \(name) is longer than the file") }
            let length = Int(declared)
            guard length % MemoryLayout<T>.stride == 0 else { throw bad("bad section \(name)") }
            let elements = length / MemoryLayout<T>.stride
            if let count, elements != count { throw bad("section \(name) has \(elements) entries, header says \(count)") }
            let values = [T](unsafeUninitializedCapacity: elements) { buffer, initialized in
                bytes.withUnsafeBytes { raw in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[position..<position + length]))
                }
                initialized = elements
            }
            position += length
            return values
        }
        // Header counts are claims: bounded before any arithmetic on them.
        guard info.users >= 0, info.users < bytes.count, info.interactions >= 0, info.interactions < bytes.count,
              info.items >= 0, info.items <= Int(Int32.max) else {
            throw bad("header counts (users \(info.users), items \(info.items), interactions \(info.interactions)) do not fit the file")
        }
        let offsets = try section(Int64.self, "offsets", count: info.users + 1).map { Int($0) }
        let items = try section(Int32.self, "items", count: info.interactions)
        let timestamps = try section(Double.self, "timestamps", count: info.hasTimestamps ? info.interactions : 0)
        let idOffsets = try section(UInt32.self, "user id offsets", count: info.users + 1)
        let idBytes = try section(UInt8.self, "user ids", count: nil)
        guard position == bytes.count - 4 else { throw bad("unexpected bytes after the last section") }

        // Validate what later stages index with, so a bad file fails here and not deep inside training.
        guard offsets.first == 0, offsets.last == items.count,
            // Ascending is checked first (from 0), so the subtraction cannot overflow.
            zip(offsets, offsets.dropFirst()).allSatisfy({ $1 >= $0 && $1 - $0 >= PreprocessingOptions.minimumUserInteractions })
        else { throw bad("user offsets are inconsistent") }
        guard items.allSatisfy({ $0 >= 0 && Int($0) < info.items }) else { throw bad("item index outside 0..<\(info.items)") }
        guard idOffsets.first == 0, idOffsets.last.map({ Int($0) == idBytes.count }) == true,
            zip(idOffsets, idOffsets.dropFirst()).allSatisfy({ $0 <= $1 })
        else { throw bad("user id table is inconsistent") }
        let userIDs = (0..<info.users).map { String(decoding: idBytes[Int(idOffsets[$0])..<Int(idOffsets[$0 + 1])], as: UTF8.self) }

        let sequences = PreparedSequences(
            itemCount: info.items, userIDs: userIDs, offsets: offsets, items: items, timestamps: info.hasTimestamps ? timestamps : nil)
        return PreparedDataset(info: info, sequences: sequences)
    }

    public static func read(_ url: URL) throws -> PreparedDataset {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw DatasetError.badPreparedData(path: url.path, reason: "cannot read (\(error.localizedDescription))")
        }
        return try decode([UInt8](data), path: url.path)
    }

    /// Writes through a temporary file in the same directory and renames it into place.
    public static func write(_ dataset: PreparedDataset, to url: URL) throws {
        let bytes = try encode(dataset)
        do { try Data(bytes).write(to: url, options: .atomic) } catch {
            throw DatasetError.outputFailed(path: url.path, reason: error.localizedDescription)
        }
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func appendSection<T>(_ values: [T], to out: inout [UInt8]) {
        values.withUnsafeBytes { raw in
            append(UInt64(raw.count), to: &out)
            out.append(contentsOf: raw)
        }
    }

    private static func load<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.withUnsafeBytes { raw in
            // zlib's crc32 takes a 32-bit length; feed large inputs in chunks.
            var crc = crc32(0, nil, 0)
            var offset = 0
            while offset < raw.count {
                let length = min(raw.count - offset, 1 << 30)
                crc = crc32(crc, raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self), UInt32(length))
                offset += length
            }
            return UInt32(crc)
        }
    }
}

import BinaryFiles
import Foundation

/// The binary form of a prepared dataset (`dataset.bin`), built to load in one read and a few memcpys, in the
/// binary-file convention of the codes and tree files (`BinaryFiles`):
///
///     "MSCGPREP"  UInt32 version=2  UInt32 headerLength  header JSON (PreparedInfo)
///     sections, each UInt64 byteLength + bytes:  offsets Int64[users+1], items Int32[interactions],
///         timestamps Float64[interactions or 0], user-id offsets UInt32[users+1], user-id UTF-8 bytes
///     UInt64 FNV-1a checksum of everything before it
///
/// All numbers little-endian. A reader refuses other versions, truncation and checksum mismatches. Version 1 (the
/// same layout with a UInt32 CRC-32 trailer, written before 2026-12-06) is still read, so existing work directories
/// keep their prepared data, SASRec and codes.
public enum PreparedFile {
    public static let fileName = "dataset.bin"
    public static let version: UInt32 = 2
    static let magic = "MSCGPREP"

    public static func encode(_ dataset: PreparedDataset) throws -> [UInt8] { [UInt8](try encodedData(dataset)) }

    /// The file's bytes as `write` stores them (no round trip through an array: prepared files reach tens of MB).
    static func encodedData(_ dataset: PreparedDataset) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let header = try encoder.encode(dataset.info)
        let sequences = dataset.sequences
        var writer = ByteWriter(magic: magic, version: version)
        writer.appendString(Array(header))
        writer.appendSection(sequences.offsets.map { Int64($0) })
        writer.appendSection(sequences.items)
        writer.appendSection(sequences.timestamps ?? [])
        var idOffsets: [UInt32] = [0]
        var idBytes: [UInt8] = []
        for id in sequences.userIDs {
            idBytes.append(contentsOf: id.utf8)
            idOffsets.append(UInt32(idBytes.count))
        }
        writer.appendSection(idOffsets)
        writer.appendSection(idBytes)
        return writer.finished()
    }

    public static func decode(_ bytes: [UInt8], path: String) throws -> PreparedDataset { try decode(Data(bytes), path: path) }

    static func decode(_ data: Data, path: String) throws -> PreparedDataset {
        do {
            return try decodeCurrent(try LegacyPreparedFile.upgraded(data, path: path) ?? data, path: path)
        } catch let error as BinaryFileError {
            guard case .malformed(_, let field, let reason) = error else { throw DatasetError.badPreparedData(path: path, reason: "\(error)") }
            throw DatasetError.badPreparedData(path: path, reason: field == "magic" ? reason : "\(field): \(reason)")
        }
    }

    private static func decodeCurrent(_ data: Data, path: String) throws -> PreparedDataset {
        func bad(_ reason: String) -> DatasetError { .badPreparedData(path: path, reason: reason) }
        var reader = try ByteReader(data: data, path: path, magic: magic, version: version, kind: "prepared dataset")
        let header = try reader.readStringBytes(field: "header")
        let info: PreparedInfo
        do { info = try JSONDecoder().decode(PreparedInfo.self, from: header) } catch { throw bad("unreadable header: \(error)") }
        // Header counts are claims: bounded before any arithmetic on them.
        guard info.users >= 0, info.users < data.count, info.interactions >= 0, info.interactions < data.count,
              info.items >= 0, info.items <= Int(Int32.max) else {
            throw bad("header counts (users \(info.users), items \(info.items), interactions \(info.interactions)) do not fit the file")
        }
        func section<T: BitwiseCopyable>(_ type: T.Type, _ name: String, count: Int?) throws -> [T] {
            let values = try reader.readSection(T.self, field: "section \(name)")
            if let count, values.count != count { throw bad("section \(name) has \(values.count) entries, header says \(count)") }
            return values
        }
        let offsets = try section(Int64.self, "offsets", count: info.users + 1).map { Int($0) }
        let items = try section(Int32.self, "items", count: info.interactions)
        let timestamps = try section(Double.self, "timestamps", count: info.hasTimestamps ? info.interactions : 0)
        let idOffsets = try section(UInt32.self, "user id offsets", count: info.users + 1)
        let idBytes = try section(UInt8.self, "user ids", count: nil)
        try reader.expectEnd()

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
        return try decode(data, path: url.path)
    }

    /// Writes through a temporary file in the same directory and renames it into place.
    public static func write(_ dataset: PreparedDataset, to url: URL) throws {
        let bytes = try encodedData(dataset)
        do { try writeAtomically(bytes, to: url) } catch {
            throw DatasetError.outputFailed(path: url.path, reason: "\(error)")
        }
    }
}

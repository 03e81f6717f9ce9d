import BinaryFiles
import Catalog
import Foundation

/// Where a work directory keeps each modality's code artefacts (next to catalog.sqlite, which holds the codes too):
///
///     WORK/codes/<modality>.codes                 CodesFile: every item's codes + presence (what training reads)
///     WORK/codes/<modality>.tree                  PrefixTree of the full sequences
///     WORK/codes/<modality>.quantizer.safetensors codebooks (and RQ-VAE weights) to encode new items
///     WORK/codes/<modality>.quantize.json         options, timings, reconstruction error of the run
public enum CodesDirectory {
    public static func directory(_ work: URL) -> URL { work.appendingPathComponent("codes") }
    public static func codesURL(_ work: URL, modality: String) -> URL { directory(work).appendingPathComponent("\(modality).codes") }
    public static func treeURL(_ work: URL, modality: String) -> URL { directory(work).appendingPathComponent("\(modality).tree") }
    public static func quantizerURL(_ work: URL, modality: String) -> URL {
        directory(work).appendingPathComponent("\(modality).quantizer.safetensors")
    }
    public static func reportURL(_ work: URL, modality: String) -> URL { directory(work).appendingPathComponent("\(modality).quantize.json") }

    /// Modality names become file names: letters, digits, '_' and '-' only.
    public static func validate(modality: String) throws {
        let allowed = modality.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "_" || $0 == "-" }
        guard !modality.isEmpty, allowed, modality.count <= 64 else {
            throw CodesError.invalidOption(name: "modality", reason: "\"\(modality)\" must be 1–64 ASCII letters, digits, '_' or '-'")
        }
    }
}

/// `<modality>.codes`: one modality's codes for every catalog item (little-endian, FNV-1a checksum at the end).
///
///     "MSCCODES" u32 version=1  string modality  string source  u32 levels  u8 lastLevelIsCollision
///     u64 codebookSizes[levels]  u64 itemCount  u8 present[itemCount]  i32 codes[itemCount × levels]  u64 checksum
///
/// (a string is u32 byte count + UTF-8). Absent items have all-zero rows.
public struct CodesFile: Sendable, Equatable {
    static let magic = "MSCCODES"
    static let version: UInt32 = 1

    public var codes: ModalityCodes
    /// True when the last level is the collision level (codes written by `quantize`); false for raw code sets.
    public var hasCollisionLevel: Bool

    public init(codes: ModalityCodes, hasCollisionLevel: Bool) {
        self.codes = codes
        self.hasCollisionLevel = hasCollisionLevel
    }

    /// Levels before the collision level (all levels when there is none).
    public var quantizedLevels: Int { hasCollisionLevel ? codes.levels - 1 : codes.levels }

    public func serialized() -> Data {
        var writer = ByteWriter(magic: Self.magic, version: Self.version)
        writer.append(codes.modality)
        writer.append(codes.source)
        writer.append(UInt32(codes.levels))
        writer.append(UInt8(hasCollisionLevel ? 1 : 0))
        for size in codes.codebookSizes { writer.append(UInt64(size)) }
        writer.append(UInt64(codes.itemCount))
        writer.appendBytes(codes.present.map { $0 ? 1 : 0 })
        writer.append(contentsOf: codes.codes)
        return writer.finished()
    }

    public func write(to url: URL) throws { try CodesError.mapping { try writeAtomically(serialized(), to: url) } }

    public static func read(from url: URL) throws -> CodesFile {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw CodesError.unreadable(path: url.path, reason: "cannot read codes: \(error.localizedDescription)")
        }
        return try CodesFile(serialized: data, path: url.path)
    }

    public init(serialized data: Data, path: String = "<memory>") throws {
        self = try CodesError.mapping { try Self.decode(data, path: path) }
    }

    private static func decode(_ data: Data, path: String) throws -> CodesFile {
        var reader = try ByteReader(data: data, path: path, magic: magic, version: version, kind: "codes")
        let modality = try reader.readString(field: "modality")
        let source = try reader.readString(field: "source")
        let levels = Int(try reader.read(UInt32.self, field: "levels"))
        guard (1...64).contains(levels) else { throw reader.fail("levels", "\(levels) is outside 1...64") }
        let flag = try reader.read(UInt8.self, field: "lastLevelIsCollision")
        guard flag <= 1 else { throw reader.fail("lastLevelIsCollision", "\(flag) is not 0 or 1") }
        var sizes: [Int] = []
        for level in 0..<levels {
            let size = try reader.readCount(field: "codebookSizes[\(level)]")
            guard size >= 1 else { throw reader.fail("codebookSizes[\(level)]", "must be at least 1") }
            sizes.append(size)
        }
        let itemCount = try reader.readCount(field: "itemCount")
        let presentBytes = try reader.readArray(UInt8.self, count: itemCount, field: "present")
        let values = try reader.readArray(Int32.self, count: itemCount * levels, field: "codes")
        try reader.expectEnd()
        for (item, byte) in presentBytes.enumerated() {
            guard byte <= 1 else { throw reader.fail("present[\(item)]", "\(byte) is not 0 or 1") }
            for level in 0..<levels {
                let code = values[item * levels + level]
                guard byte == 1 ? (code >= 0 && Int(code) < sizes[level]) : code == 0 else {
                    throw reader.fail("codes[\(item)][\(level)]", byte == 1 ? "code \(code) outside 0..<\(sizes[level])" : "absent item with a non-zero code")
                }
            }
        }
        let codes = ModalityCodes(modality: modality, levels: levels, codebookSizes: sizes, source: source, codes: values,
                                  present: presentBytes.map { $0 == 1 })
        return CodesFile(codes: codes, hasCollisionLevel: flag == 1)
    }
}

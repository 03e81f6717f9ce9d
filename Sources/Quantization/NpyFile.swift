import BinaryFiles
import Foundation
import ItemCodes

/// NumPy `.npy` matrices (format versions 1–3): 2-D, C order, float16/float32/float64 of either byte order,
/// as the shared datasets' `*.text-mpnet.npy` files. Rows are streamed straight into their destination, so a
/// 3 GB file needs 3 GB of memory, not 6.
public struct NpyHeader: Sendable, Equatable {
    public enum ScalarType: String, Sendable { case float16, float32, float64 }
    public var rows: Int
    public var columns: Int
    public var scalarType: ScalarType
    public var bigEndian: Bool
    public var dataOffset: Int

    public var scalarSize: Int {
        switch scalarType {
        case .float16: return 2
        case .float32: return 4
        case .float64: return 8
        }
    }
}

public enum NpyFile {
    public static func header(of path: String) throws -> NpyHeader {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CodesError.unreadable(path: path, reason: "cannot open") }
        defer { try? handle.close() }
        let prefix = [UInt8]((try? handle.read(upToCount: 12)) ?? Data())
        let (major, headerStart, headerLength) = try preamble(prefix, path: path)
        try handle.seek(toOffset: UInt64(headerStart))
        let headerBytes = [UInt8]((try handle.read(upToCount: headerLength)) ?? Data())
        let size = try handle.seekToEnd()
        return try header(major: major, headerStart: headerStart, headerBytes: headerBytes, fileSize: size, path: path)
    }

    /// The header of a whole `.npy` file held in memory (tests and fuzzing use this; files go through `header(of:)`).
    static func header(bytes: [UInt8], path: String) throws -> NpyHeader {
        let (major, headerStart, headerLength) = try preamble(Array(bytes.prefix(12)), path: path)
        let headerBytes = Array(bytes.dropFirst(headerStart).prefix(headerLength))
        return try header(major: major, headerStart: headerStart, headerBytes: headerBytes, fileSize: UInt64(bytes.count), path: path)
    }

    /// Magic, version and header length from the first (up to) 12 bytes.
    private static func preamble(_ bytes: [UInt8], path: String) throws -> (major: UInt8, start: Int, length: Int) {
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw CodesError.malformed(path: path, field: "magic", reason: "not a NumPy .npy file")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1: headerLength = Int(bytes[8]) | Int(bytes[9]) << 8; headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw CodesError.malformed(path: path, field: "header length", reason: "file too short") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default: throw CodesError.malformed(path: path, field: "version", reason: "format version \(major) is not supported (1–3 are)")
        }
        guard headerLength < 1 << 20 else { throw CodesError.malformed(path: path, field: "header length", reason: "\(headerLength) bytes is implausible") }
        return (major, headerStart, headerLength)
    }

    private static func header(major: UInt8, headerStart: Int, headerBytes: [UInt8], fileSize: UInt64, path: String) throws -> NpyHeader {
        guard let text = String(bytes: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw CodesError.malformed(path: path, field: "header", reason: "not \(major == 3 ? "UTF-8" : "Latin-1") text")
        }
        var header = try parseHeader(text, path: path)
        header.dataOffset = headerStart + headerBytes.count
        // Checked arithmetic: a shape such as (2^63-1, 768) must be an error, not an overflow trap.
        let (cells, o1) = UInt64(header.rows).multipliedReportingOverflow(by: UInt64(header.columns))
        let (dataBytes, o2) = cells.multipliedReportingOverflow(by: UInt64(header.scalarSize))
        let (expected, o3) = dataBytes.addingReportingOverflow(UInt64(header.dataOffset))
        guard !o1, !o2, !o3, expected <= UInt64(Int.max) else {
            throw CodesError.malformed(path: path, field: "shape", reason: "(\(header.rows), \(header.columns)) is too large for any file")
        }
        guard fileSize == expected else {
            throw CodesError.malformed(path: path, field: "shape", reason: "(\(header.rows), \(header.columns)) needs \(expected) bytes, the file has \(fileSize)")
        }
        return header
    }

    /// Parses the header dict, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (12101, 768), }`.
    static func parseHeader(_ text: String, path: String) throws -> NpyHeader {
        func value(of key: String) throws -> Substring {
            guard let keyRange = text.range(of: "'\(key)'"), let colon = text[keyRange.upperBound...].firstIndex(of: ":") else {
                throw CodesError.malformed(path: path, field: key, reason: "missing from the header")
            }
            let rest = text[text.index(after: colon)...].drop { $0 == " " }
            if rest.first == "(" {
                guard let close = rest.firstIndex(of: ")") else { throw CodesError.malformed(path: path, field: key, reason: "unclosed tuple") }
                return rest[rest.startIndex...close]
            }
            if rest.first == "'" {
                let body = rest.dropFirst()
                guard let close = body.firstIndex(of: "'") else { throw CodesError.malformed(path: path, field: key, reason: "unclosed string") }
                return body[body.startIndex..<close]
            }
            return rest.prefix { $0 != "," && $0 != "}" }
        }
        let descr = try value(of: "descr")
        let order: Bool
        switch try value(of: "fortran_order").trimmingCharacters(in: .whitespaces) {
        case "False": order = false
        case "True": order = true
        case let other: throw CodesError.malformed(path: path, field: "fortran_order", reason: "expected True or False, got \(other)")
        }
        guard !order else { throw CodesError.malformed(path: path, field: "fortran_order", reason: "Fortran-order arrays are not supported; save with np.ascontiguousarray") }
        let dims = try value(of: "shape").dropFirst().dropLast().split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard dims.count == 2, let rows = Int(dims[0]), let columns = Int(dims[1]), rows >= 0, columns > 0 else {
            throw CodesError.malformed(path: path, field: "shape", reason: "expected a 2-D shape (rows, columns), got \(dims)")
        }
        let bigEndian: Bool
        switch descr.first {
        case "<", "|", "=": bigEndian = false
        case ">": bigEndian = true
        default: throw CodesError.malformed(path: path, field: "descr", reason: "unsupported dtype '\(descr)'")
        }
        let type: NpyHeader.ScalarType
        switch descr.dropFirst() {
        case "f2", "e": type = .float16
        case "f4": type = .float32
        case "f8": type = .float64
        default: throw CodesError.malformed(path: path, field: "descr", reason: "dtype '\(descr)' is not a float16, float32 or float64")
        }
        return NpyHeader(rows: rows, columns: columns, scalarType: type, bigEndian: bigEndian, dataOffset: 0)
    }

    /// Streams the file's rows to their destinations: file row r goes to `destination(r)` (`header.columns` floats), or
    /// is skipped when nil. Non-finite values are refused with their row and column.
    public static func read(_ path: String, header: NpyHeader,
                            destination: (Int) -> UnsafeMutablePointer<Float>?) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CodesError.unreadable(path: path, reason: "cannot open") }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(header.dataOffset))
        let rowBytes = header.columns * header.scalarSize
        let blockRows = max(1, (8 << 20) / rowBytes)
        var row = 0
        while row < header.rows {
            let count = min(blockRows, header.rows - row)
            guard let block = try handle.read(upToCount: count * rowBytes), block.count == count * rowBytes else {
                throw CodesError.malformed(path: path, field: "data", reason: "file ends at row \(row)")
            }
            try block.withUnsafeBytes { raw in
                for r in 0..<count {
                    guard let out = destination(row + r) else { continue }
                    convert(raw.baseAddress! + r * rowBytes, header: header, into: out)
                    for j in 0..<header.columns where !out[j].isFinite {
                        throw CodesError.malformed(path: path, field: "row \(row + r)", reason: "value \(out[j]) in column \(j) is not finite")
                    }
                }
            }
            row += count
        }
    }

    private static func convert(_ source: UnsafeRawPointer, header: NpyHeader, into out: UnsafeMutablePointer<Float>) {
        let n = header.columns
        switch (header.scalarType, header.bigEndian) {
        case (.float32, false): UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: n * 4)
        case (.float32, true):
            for j in 0..<n { out[j] = Float(bitPattern: UInt32(bigEndian: source.loadUnaligned(fromByteOffset: j * 4, as: UInt32.self))) }
        case (.float16, let big):
            for j in 0..<n {
                let bits = source.loadUnaligned(fromByteOffset: j * 2, as: UInt16.self)
                out[j] = halfToFloat(big ? UInt16(bigEndian: bits) : UInt16(littleEndian: bits))
            }
        case (.float64, let big):
            for j in 0..<n {
                let bits = source.loadUnaligned(fromByteOffset: j * 8, as: UInt64.self)
                out[j] = Float(Double(bitPattern: big ? UInt64(bigEndian: bits) : UInt64(littleEndian: bits)))
            }
        }
    }

    /// IEEE 754 binary16 → binary32, exactly (subnormals, infinities and NaN included).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exponent = Int(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            // ±0 or subnormal: mantissa · 2^−24
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }

    /// Writes `rows` × `columns` floats as a little-endian float32 `.npy` (version 1.0), atomically.
    public static func write(rows: Int, columns: Int, values: UnsafePointer<Float>, to url: URL) throws {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(columns)), }"
        // Pad so the data starts on a 64-byte boundary, ending the header with a newline as NumPy does.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        data.append(UnsafeBufferPointer(start: values, count: rows * columns))
        try CodesError.mapping { try writeAtomically(data, to: url) }
    }
}

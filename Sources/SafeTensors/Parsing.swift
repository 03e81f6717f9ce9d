// Reading: every number in the header is checked before it is used, so a hostile or damaged file
// yields a SafeTensorsError, never a crash or an out-of-bounds read.
import Foundation
import JSONText

extension SafeTensors {
    /// Same limit as the reference implementation; real headers are at most a few MB.
    public static let maxHeaderSize = 100_000_000

    /// Parses and validates a complete safetensors file held in memory.
    /// - Parameter source: names the file in error messages.
    public init(data: Data, source: String = "<memory>") throws {
        func fail(_ message: String) -> SafeTensorsError { SafeTensorsError("\(source): \(message)") }

        let file = data.startIndex == 0 ? data : Data(data)
        guard file.count >= 8 else {
            throw fail("file is truncated: \(file.count) bytes is shorter than the 8-byte header length")
        }
        let headerLength = file.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= UInt64(Self.maxHeaderSize) else {
            throw fail("header length \(headerLength) exceeds the \(Self.maxHeaderSize)-byte limit")
        }
        let headerEnd = 8 + Int(headerLength)
        guard headerEnd <= file.count else {
            throw fail("header length \(headerLength) is larger than the rest of the file (\(file.count - 8) bytes); file is truncated")
        }
        // JSONText rather than JSONSerialization: a repeated key must be refused, and offsets must stay exact
        // integers (no rounding through Double). It also refuses invalid UTF-8, so no separate check is needed.
        let header: JSONValue
        do {
            header = try JSONValue.parse([UInt8](file[8..<headerEnd]), options: .init(maxDepth: headerMaxDepth))
        } catch {
            throw fail("invalid JSON header at byte \(error.offset): \(error.reason)")
        }
        guard case .object(let members) = header else {
            throw fail("header must be a JSON object, found \(header.kindName)")
        }

        var metadata: [String: String] = [:]
        var infos: [(name: String, info: TensorInfo)] = []
        for (name, value) in members {
            if name == metadataKey {
                metadata = try parseMetadata(value, fail: fail)
            } else {
                infos.append((name, try TensorInfo(value, name: name, fail: fail)))
            }
        }

        // The buffer must be covered exactly: sorted by position, each tensor starts where the previous
        // ended, and the last one ends at the end of the file.
        let bufferSize = file.count - headerEnd
        infos.sort { ($0.info.begin, $0.info.end, $0.name) < ($1.info.begin, $1.info.end, $1.name) }
        var cursor = 0
        var previous: String?
        for (name, info) in infos {
            if info.begin < cursor {
                throw fail("tensor '\(name)': data_offsets [\(info.begin), \(info.end)) overlap tensor '\(previous ?? "")' which ends at \(cursor)")
            }
            if info.begin > cursor {
                let after = previous.map { "after tensor '\($0)' " } ?? ""
                throw fail("tensor '\(name)': data_offsets are not contiguous: a hole of \(info.begin - cursor) bytes \(after)at buffer offset \(cursor)")
            }
            cursor = info.end
            previous = name
        }
        if cursor > bufferSize {
            throw fail("file is truncated: tensors need a \(cursor)-byte buffer but only \(bufferSize) bytes follow the header")
        }
        if cursor < bufferSize {
            throw fail("\(bufferSize - cursor) trailing bytes after the last tensor (buffer is \(bufferSize) bytes, tensors cover \(cursor))")
        }

        var entries: [String: SafeTensorEntry] = [:]
        for (name, info) in infos {
            let bytes = file.subdata(in: (headerEnd + info.begin)..<(headerEnd + info.end))
            entries[name] = SafeTensorEntry(dtype: info.dtype, shape: info.shape, bytes: bytes)
        }
        self.init(metadata: metadata, entries: entries)
    }
}

private func parseMetadata(_ value: JSONValue, fail: (String) -> SafeTensorsError) throws -> [String: String] {
    guard case .object(let members) = value else {
        throw fail("'\(metadataKey)' must be an object mapping strings to strings, found \(value.kindName)")
    }
    var metadata: [String: String] = [:]
    for (key, value) in members {
        guard case .string(let text) = value else {
            throw fail("'\(metadataKey)' value for key '\(key)' must be a string, found \(value.kindName)")
        }
        metadata[key] = text
    }
    return metadata
}

/// One header entry, validated against itself (dtype known, shape and offsets agree).
private struct TensorInfo {
    let dtype: SafeTensorDType
    let shape: [Int]
    let begin: Int
    let end: Int

    init(_ value: JSONValue, name: String, fail: (String) -> SafeTensorsError) throws {
        func fieldError(_ message: String) -> SafeTensorsError { fail("tensor '\(name)': \(message)") }
        guard case .object = value else {
            throw fieldError("header entry must be an object, found \(value.kindName)")
        }
        // Unknown extra fields are ignored, as the reference reader does.
        guard let dtypeValue = value["dtype"] else { throw fieldError("missing field 'dtype'") }
        guard let shapeValue = value["shape"] else { throw fieldError("missing field 'shape'") }
        guard let offsetsValue = value["data_offsets"] else { throw fieldError("missing field 'data_offsets'") }

        guard case .string(let dtypeName) = dtypeValue else {
            throw fieldError("'dtype' must be a string, found \(dtypeValue.kindName)")
        }
        guard let dtype = SafeTensorDType(rawValue: dtypeName) else {
            let known = SafeTensorDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fieldError("unknown dtype '\(dtypeName)' (supported: \(known))")
        }

        guard case .array(let dims) = shapeValue else {
            throw fieldError("'shape' must be an array, found \(shapeValue.kindName)")
        }
        var shape: [Int] = []
        for dim in dims {
            guard let n = nonNegativeInt(dim) else {
                throw fieldError("shape dimensions must be non-negative integers, found \(describe(dim)) in \(describe(shapeValue))")
            }
            shape.append(n)
        }

        guard case .array(let offsets) = offsetsValue, offsets.count == 2,
              let begin = nonNegativeInt(offsets[0]), let end = nonNegativeInt(offsets[1]) else {
            throw fieldError("data_offsets must be two non-negative integers [begin, end], found \(describe(offsetsValue))")
        }
        guard begin <= end else {
            throw fieldError("data_offsets [\(begin), \(end)) end before they begin")
        }
        guard let size = byteCount(shape: shape, dtype: dtype) else {
            throw fieldError("shape \(shape) of \(dtype) is too large")
        }
        guard end - begin == size else {
            throw fieldError("data_offsets [\(begin), \(end)) do not match shape \(shape) of \(dtype) (\(size) bytes)")
        }
        self.dtype = dtype
        self.shape = shape
        self.begin = begin
        self.end = end
    }
}

/// Deep nesting never occurs in a real header; a low cap keeps hostile input cheap.
private let headerMaxDepth = 64

/// A JSON number written as a plain non-negative integer ("12"), else nil ("-1", "1.5", "1e3", too big).
private func nonNegativeInt(_ value: JSONValue) -> Int? {
    guard case .number(let text) = value, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    return Int(text)
}

/// Compact JSON-like rendering of a header value for error messages.
private func describe(_ value: JSONValue) -> String {
    switch value {
    case .object: "{...}"
    case .array(let items): "[" + items.map(describe).joined(separator: ", ") + "]"
    case .string(let s): jsonQuoted(s)
    case .number(let n): n
    case .bool(let b): String(b)
    case .null: "null"
    }
}

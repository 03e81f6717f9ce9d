import CZlib
import Foundation

/// Reads input files through zlib, which passes plain files through unchanged, so every reader accepts `.gz` too.
enum InputFile {
    /// The whole (decompressed) content.
    static func readAll(_ path: String) throws -> [UInt8] {
        let file = try GzipFile(path: path)
        var bytes: [UInt8] = []
        let plainSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        bytes.reserveCapacity(max(plainSize, 1 << 16))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = try file.read(into: &chunk)
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }

    /// Calls `body` with each line (without its `\n` or `\r\n`) and its 1-based number. The buffer is only valid
    /// during the call. A last line without a newline is still delivered.
    static func forEachLine(_ path: String, _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws {
        let file = try GzipFile(path: path)
        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        var filled = 0
        var lineNumber = 0
        var finished = false
        while !finished {
            if filled == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }  // a very long line
            let count = try buffer.withUnsafeMutableBufferPointer { whole in
                var tail = UnsafeMutableBufferPointer(rebasing: whole[filled...])
                return try file.read(into: &tail)
            }
            if count == 0 { finished = true }
            filled += count
            var consumed = 0
            try buffer.withUnsafeBufferPointer { whole in
                var start = 0
                var index = filled - count
                while index < filled {
                    if whole[index] == 0x0A {
                        lineNumber += 1
                        try body(trimmed(whole, start, index), lineNumber)
                        start = index + 1
                    }
                    index += 1
                }
                if finished && start < filled {
                    lineNumber += 1
                    try body(trimmed(whole, start, filled), lineNumber)
                    start = filled
                }
                consumed = start
            }
            if consumed > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    let base = raw.baseAddress!
                    memmove(base, base + consumed, filled - consumed)
                }
                filled -= consumed
            }
        }
    }

    private static func trimmed(_ whole: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UnsafeBufferPointer<UInt8> {
        var end = end
        if end > start && whole[end - 1] == 0x0D { end -= 1 }
        return UnsafeBufferPointer(rebasing: whole[start..<end])
    }
}

/// A gzopen handle; closed on deinit.
private final class GzipFile {
    private let handle: gzFile
    private let path: String

    init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DatasetError.unreadable(file: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw DatasetError.unreadable(file: path, reason: "is a directory") }
        guard let handle = gzopen(path, "rb") else {
            throw DatasetError.unreadable(file: path, reason: String(cString: strerror(errno)))
        }
        gzbuffer(handle, 1 << 20)
        self.handle = handle
        self.path = path
    }

    deinit { gzclose(handle) }

    /// Fills up to `buffer.count` bytes; 0 at the end. Corrupt or truncated gzip data is an error, not a short file.
    func read(into buffer: inout [UInt8]) throws -> Int {
        try buffer.withUnsafeMutableBufferPointer { try read(into: &$0) }
    }

    func read(into buffer: inout UnsafeMutableBufferPointer<UInt8>) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        let count = gzread(handle, buffer.baseAddress, UInt32(min(buffer.count, Int(Int32.max))))
        if count < 0 {
            var code: Int32 = 0
            let message = gzerror(handle, &code).map { String(cString: $0) } ?? "read error"
            throw DatasetError.unreadable(file: path, reason: message)
        }
        if count == 0 {
            // zlib reports a stream cut short only through gzerror after the final read.
            var code: Int32 = 0
            let message = gzerror(handle, &code)
            if code != Z_OK && code != Z_STREAM_END {
                throw DatasetError.unreadable(file: path, reason: message.map { String(cString: $0) } ?? "gzip error \(code)")
            }
        }
        return Int(count)
    }
}

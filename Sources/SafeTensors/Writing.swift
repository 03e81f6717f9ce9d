// Serialising and file I/O. Output is deterministic (same tensors -> same bytes) so fixtures can be
// compared byte for byte, and files are replaced atomically so a crash never leaves half a file.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import JSONText

extension SafeTensors {
    /// The file bytes. Header keys are sorted (by Swift string order) at every level; the buffer holds
    /// the tensors in name order; `__metadata__` is omitted when empty; the header is space-padded so
    /// the buffer starts at a multiple of 8 bytes.
    public func serialized() -> Data {
        var members: [(key: String, json: String)] = []
        var offset = 0
        for name in names {
            let entry = entries[name]!
            let shape = entry.shape.map(String.init).joined(separator: ",")
            let end = offset + entry.bytes.count
            members.append((name, "{\"data_offsets\":[\(offset),\(end)],\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)]}"))
            offset = end
        }
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { jsonQuoted($0) + ":" + jsonQuoted(metadata[$0]!) }
            members.append((metadataKey, "{" + pairs.joined(separator: ",") + "}"))
        }
        members.sort { $0.key < $1.key }
        var header = Array(("{" + members.map { jsonQuoted($0.key) + ":" + $0.json }.joined(separator: ",") + "}").utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))

        var file = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(contentsOf: header)
        for name in names { file.append(entries[name]!.bytes) }
        return file
    }

    /// Reads and validates a file; errors name its path.
    public static func read(contentsOf url: URL) throws -> SafeTensors {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw SafeTensorsError("\(url.path): cannot read file: \(error.localizedDescription)")
        }
        return try SafeTensors(data: data, source: url.path)
    }

    /// Writes to a temporary file in the destination directory, flushes it, then renames it over `url`,
    /// so readers see either the old file or the complete new one. The temporary file is removed on failure.
    public func write(to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temp = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            guard FileManager.default.createFile(atPath: temp.path, contents: nil) else {
                throw SafeTensorsError("\(url.path): cannot create temporary file \(temp.path)")
            }
            let handle = try FileHandle(forWritingTo: temp)
            do {
                try handle.write(contentsOf: serialized())
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                throw error
            }
            guard rename(temp.path, url.path) == 0 else {
                throw SafeTensorsError("\(url.path): cannot replace file: \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(at: temp)
            if let error = error as? SafeTensorsError { throw error }
            throw SafeTensorsError("\(url.path): write failed: \(error.localizedDescription)")
        }
    }
}

import Foundation

/// Writes to a temporary sibling and renames it into place, so readers never see half a file.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let temporary = url.deletingLastPathComponent()
        .appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
    do {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: temporary)
        // rename(2) replaces the destination atomically.
        guard rename(temporary.path, url.path) == 0 else {
            throw BinaryFileError.unwritable(path: url.path, reason: "cannot rename \(temporary.path) into place: \(String(cString: strerror(errno)))")
        }
    } catch let error as BinaryFileError {
        try? FileManager.default.removeItem(at: temporary)
        throw error
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw BinaryFileError.unwritable(path: url.path, reason: "cannot write: \(error.localizedDescription)")
    }
}

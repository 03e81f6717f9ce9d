import Catalog
import Foundation

/// A prepared work directory:
///
///     WORK/dataset.bin      sequences + split parameters (PreparedFile), what training and evaluation load
///     WORK/catalog.sqlite   the item catalog (ItemCatalog), later extended with each modality's codes
///     WORK/prepare.json     human-readable summary: options, counts before/after filtering, notes
///
/// It is built in a hidden sibling directory and renamed into place, so a reader never sees half of one.
public enum WorkDirectory {
    public static let summaryFileName = "prepare.json"

    public static func datasetURL(_ work: URL) -> URL { work.appendingPathComponent(PreparedFile.fileName) }
    public static func catalogURL(_ work: URL) -> URL { work.appendingPathComponent(ItemCatalog.fileName) }
    public static func summaryURL(_ work: URL) -> URL { work.appendingPathComponent(summaryFileName) }

    /// Loads the prepared dataset of a work directory.
    public static func load(_ work: URL) throws -> PreparedDataset {
        let url = datasetURL(work)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DatasetError.badPreparedData(path: work.path, reason: "not a prepared work directory (no \(PreparedFile.fileName); run `mscgrec-trainer prepare`)")
        }
        return try PreparedFile.read(url)
    }

    /// Fails early when `destination` exists and is neither empty nor a previous work directory: replacing an
    /// unrelated directory would destroy someone's files.
    static func checkReplaceable(_ destination: URL) throws {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: destination.path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else {
            throw DatasetError.outputFailed(path: destination.path, reason: "exists and is not a directory")
        }
        let contents = (try? manager.contentsOfDirectory(atPath: destination.path)) ?? []
        guard contents.isEmpty || contents.contains(PreparedFile.fileName) else {
            throw DatasetError.outputFailed(path: destination.path, reason: "exists and is not a prepared work directory; choose another --out")
        }
    }

    /// Runs `build` on a fresh temporary sibling directory, then swaps it in for `destination`.
    static func publish(at destination: URL, _ build: (URL) throws -> Void) throws {
        let manager = FileManager.default
        try checkReplaceable(destination)
        let parent = destination.deletingLastPathComponent()
        let tag = "\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
        let staging = parent.appendingPathComponent(".\(destination.lastPathComponent).tmp-\(tag)")
        do {
            try manager.createDirectory(at: staging, withIntermediateDirectories: true)
        } catch {
            throw DatasetError.outputFailed(path: staging.path, reason: error.localizedDescription)
        }
        do {
            try build(staging)
            if manager.fileExists(atPath: destination.path) {
                let old = parent.appendingPathComponent(".\(destination.lastPathComponent).old-\(tag)")
                try manager.moveItem(at: destination, to: old)
                try manager.moveItem(at: staging, to: destination)
                try? manager.removeItem(at: old)
            } else {
                try manager.moveItem(at: staging, to: destination)
            }
        } catch {
            try? manager.removeItem(at: staging)
            if error is DatasetError { throw error }
            throw DatasetError.outputFailed(path: destination.path, reason: "\(error)")
        }
    }
}

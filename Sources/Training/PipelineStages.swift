import BinaryFiles
import Foundation
import MSCCore

/// What a pipeline stage was computed from: its settings, the fingerprints of the stages it reads, and the contents
/// (size and digest) of the input files it reads. Equal inputs mean the stored result can be reused. Contents, not
/// modification times: a dataset copied to another machine (new mtimes, same bytes) must not retrain everything.
public struct StageInputs: Sendable, Equatable {
    public let canonical: String

    public init(kind: String, settings: CodableJSON, upstream: [StageRecord] = [], files: [String] = [],
                digests: FileDigestCache = FileDigestCache()) {
        var object: [String: CodableJSON] = ["kind": .string(kind), "settings": settings]
        object["upstream"] = .array(upstream.map { .string($0.fingerprint) })
        object["files"] = .object(Dictionary(files.map { ($0, .string(digests.identity(of: $0))) }, uniquingKeysWith: { a, _ in a }))
        canonical = String(decoding: CodableJSON.object(object).canonicalData(), as: UTF8.self)
    }

    /// A 16-hex-digit digest of the inputs, which downstream stages include in theirs (so a change reruns them too).
    public var fingerprint: String { String(format: "%016llx", fnv1a(Data(canonical.utf8))) }
}

/// "size:digest" of input files, with the digests remembered by (size, mtime) in a JSON file so that an unchanged
/// multi-gigabyte input is read once, not on every run; a changed mtime only costs a re-read.
public final class FileDigestCache: @unchecked Sendable {
    private struct Entry: Codable { var size: Int64; var mtime: Int64; var digest: String }
    private let file: URL?
    private var entries: [String: Entry] = [:]
    private var dirty = false

    /// `file: nil` keeps the digests in memory only.
    public init(file: URL? = nil) {
        self.file = file
        if let file, let data = try? Data(contentsOf: file),
           let stored = try? JSONDecoder().decode([String: Entry].self, from: data) { entries = stored }
    }

    /// "size:digest" of a file, or of every entry of a directory (one level); "missing" when absent.
    public func identity(of path: String) -> String {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else { return "missing" }
        guard isDirectory.boolValue else { return one(path) }
        let entries = ((try? manager.contentsOfDirectory(atPath: path)) ?? []).sorted()
        return entries.map { "\($0)=\(one((path as NSString).appendingPathComponent($0)))" }.joined(separator: ",")
    }

    /// Writes the remembered digests (atomically) when any were computed.
    public func save() throws {
        guard dirty, let file else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try writeAtomically(try encoder.encode(entries), to: file)
        dirty = false
    }

    private func one(_ path: String) -> String {
        guard let a = try? FileManager.default.attributesOfItem(atPath: path) else { return "missing" }
        if (a[.type] as? FileAttributeType) == .typeDirectory { return "directory" }
        let size = (a[.size] as? NSNumber)?.int64Value ?? -1
        let mtime = Int64(((a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0) * 1000)
        if let known = entries[path], known.size == size, known.mtime == mtime { return "\(size):\(known.digest)" }
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else { return "unreadable" }
        let digest = String(format: "%016llx", fnv1a(data))
        entries[path] = Entry(size: size, mtime: mtime, digest: digest)
        dirty = true
        return "\(size):\(digest)"
    }
}

/// The stored state of one stage (WORK/stages/<name>.json).
public struct StageRecord: Codable, Sendable, Equatable {
    public var inputs: String
    public var fingerprint: String
    public var completed: Bool
    public var seconds: Double?
}

/// Decides, per stage, whether its stored result is reusable, an interrupted run of the same inputs to continue, or
/// stale; records starts and completions atomically, so a crash at any point leaves a state that reruns correctly.
public struct StageStore: Sendable {
    public enum Decision: Sendable, Equatable {
        /// Completed with the same inputs: reuse.
        case cached(StageRecord)
        /// Started with the same inputs and not completed: continue (resumable stages) or redo.
        case resume
        /// Never run, or run with other inputs: start afresh.
        case fresh
    }

    public let directory: URL
    public init(directory: URL) { self.directory = directory }

    func url(_ stage: String) -> URL { directory.appendingPathComponent("\(stage).json") }

    public func record(_ stage: String) -> StageRecord? {
        guard let data = FileManager.default.contents(atPath: url(stage).path) else { return nil }
        return try? JSONDecoder().decode(StageRecord.self, from: data)
    }

    public func decide(_ stage: String, inputs: StageInputs) -> Decision {
        guard let stored = record(stage), stored.inputs == inputs.canonical else { return .fresh }
        return stored.completed ? .cached(stored) : .resume
    }

    public func markStarted(_ stage: String, inputs: StageInputs) throws {
        try write(stage, StageRecord(inputs: inputs.canonical, fingerprint: inputs.fingerprint, completed: false, seconds: nil))
    }

    @discardableResult
    public func markCompleted(_ stage: String, inputs: StageInputs, seconds: Double) throws -> StageRecord {
        let record = StageRecord(inputs: inputs.canonical, fingerprint: inputs.fingerprint, completed: true, seconds: seconds)
        try write(stage, record)
        return record
    }

    private func write(_ stage: String, _ record: StageRecord) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(record).write(to: url(stage), options: .atomic)
    }
}

/// An exclusive lock on a work directory for the life of a `run` (flock on WORK/.run.lock, released by the kernel when
/// the process dies): two runs on one work directory would train into the same model directories.
public final class WorkDirectoryLock {
    private let fd: Int32

    public init(_ work: URL) throws {
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let path = work.appendingPathComponent(".run.lock").path
        fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw ConfigError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            close(fd)
            throw ConfigError("another `run` is using \(work.path) (pid \(holder)); wait for it or stop it first")
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    deinit { close(fd) }
}

import Artifacts
import ArgumentParser
import Datasets
import Foundation
import ItemCodes
import MSCCore
import Training

/// `export`: a trained run → a versioned, checksummed bundle under ROOT, published atomically as ROOT/current.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Publish a trained run as a serving bundle: ROOT/<version>/ and the ROOT/current link.",
        discussion: """
        The bundle holds manifest.json (format version, model config, code layout, dataset, trainer version, creation \
        time, size and SHA-256 of every file), model.safetensors, the quantizers' codebooks, the target modality's \
        prefix tree and the SQLite item catalog. It is assembled under a temporary name, fsynced, renamed into place, \
        then `current` is switched atomically: a crash at any point leaves the previous bundle serving.
        """)

    @Option(name: .customLong("run"), help: "Run directory written by `train`.") var runDirectory: String
    @Option(help: "Bundle root directory (created if missing).") var out: String
    @Option(help: "Work directory (default: the one the run was trained on).") var data: String?
    @Option(help: "After publishing, keep only the newest N versions (the current one always stays).") var keep: Int?

    func validate() throws {
        if let keep, keep < 1 { throw ValidationError("--keep must be at least 1") }
    }

    func run() throws {
        let run = try TrainedRun.load(URL(fileURLWithPath: runDirectory), workDirectory: data)
        var codebooks: [String: URL] = [:]
        for m in run.record.model.modalities {
            let file = CodesDirectory.quantizerURL(run.work, modality: m.name)
            if FileManager.default.fileExists(atPath: file.path) { codebooks[m.name] = file }
        }
        let sources = BundleSources(
            config: run.record.model, weights: URL(fileURLWithPath: runDirectory).appendingPathComponent("model.safetensors"),
            catalog: WorkDirectory.catalogURL(run.work), tree: run.tree, codebooks: codebooks,
            dataset: .init(name: run.record.dataset, items: run.dataset.itemCount, users: run.dataset.userCount),
            trainerVersion: MSCGRecVersion.string)
        let root = URL(fileURLWithPath: out)
        let published = try BundlePublisher.publish(sources, root: root, keep: keep)
        print("published \(published.path) (\(root.path)/\(BundlePublisher.currentLink) -> \(published.lastPathComponent))")
    }
}

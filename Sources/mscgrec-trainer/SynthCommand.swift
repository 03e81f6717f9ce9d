import ArgumentParser
import Datasets
import Foundation

/// `synth`: a synthetic catalog with attribute-driven titles and taste-driven users, in the LC-Rec layout.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Generate a synthetic dataset (<NAME>.inter.json, <NAME>.item.json) in the LC-Rec layout.",
        discussion: """
            Every item gets at least --min-item-count interactions when --interactions ≥ min-item-count × items
            (the default budget guarantees it), so `prepare --min-count 5` keeps the whole catalog.
            """)

    @Option(help: "Number of items.")
    var items: Int

    @Option(help: "Number of users.")
    var users: Int

    @Option(help: "Random seed; the same seed gives the same files.")
    var seed: UInt64 = 0

    @Option(help: "Total interactions (default: max(25 × users, min-item-count × items)).")
    var interactions: Int?

    @Option(help: "Interactions each item receives at least (budget permitting).")
    var minItemCount = 5

    @Option(help: "Dataset name, the <NAME> of the files.")
    var name = "Synth"

    @Option(name: .customLong("out"), help: "Output directory (created if missing).")
    var output: String

    func validate() throws {
        guard items > 0, users > 0 else { throw ValidationError("--items and --users must be positive") }
        guard minItemCount >= 1 else { throw ValidationError("--min-item-count must be at least 1") }
    }

    func run() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let progress = ProgressLog(quiet: false, start: start)
        var options = SyntheticCatalog.Options(items: items, users: users, seed: seed)
        options.interactions = interactions
        options.minItemCount = minItemCount
        options.name = name
        if options.resolvedInteractions < items * minItemCount {
            progress.log("note: \(options.resolvedInteractions) interactions cannot give \(items) items \(minItemCount) each; k-core filtering will drop some")
        }
        let catalog = try SyntheticCatalog(options: options)
        progress.log("generated \(items) items, \(users) users, \(catalog.sequenceItems.count) interactions")
        let directory = URL(fileURLWithPath: output)
        try catalog.write(to: directory)
        progress.finish("wrote \(directory.appendingPathComponent(name).path).{inter,item}.json in \((clock.now - start).formattedSeconds), peak memory \(peakMemoryMiB()) MiB")
    }
}

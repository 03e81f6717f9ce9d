import ArgumentParser
import Datasets
import Foundation

/// `stats WORK`: the paper's Table 1 columns and the sequence-length distribution of a prepared work directory.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Print users, items, interactions, sparsity and sequence lengths of a prepared work directory.")

    @OptionGroup var directory: WorkDirectoryArgument

    @Flag(help: "One JSON object (keys include users, items, interactions, sparsity) instead of a table.")
    var json = false

    func run() throws {
        let dataset = try WorkDirectory.load(URL(fileURLWithPath: directory.path))
        let stats = DatasetStats(dataset)
        print(json ? stats.json() : stats.text())
    }
}

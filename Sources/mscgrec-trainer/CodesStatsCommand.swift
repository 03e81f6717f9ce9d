import ArgumentParser
import Quantization
import Foundation

/// `codes-stats WORK`: per modality and level, codebook utilisation, perplexity, collision rate, largest collision
/// group and relative reconstruction error of the codes in a work directory.
struct CodesStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codes-stats",
        abstract: "Print code statistics of every modality in a work directory.",
        discussion: """
            --json prints one object keyed by modality; each has "levels", "utilization" (one value per level),
            "perplexity", "collision_rate", "max_collision_group", "reconstruction_error" (per quantized level, or null)
            and more. The collision rate counts items sharing their first L codes (all levels for code sets without
            a collision level, such as the raw precomputed sets `prepare` stores).
            """)

    @OptionGroup var directory: WorkDirectoryArgument

    @Flag(help: "One JSON object keyed by modality instead of tables.")
    var json = false

    func run() throws {
        let statistics = try QuantizePipeline.statistics(work: URL(fileURLWithPath: directory.path))
        if json {
            print(CodeStatistics.json(statistics))
        } else if statistics.isEmpty {
            print("no codes in \(directory.path) yet; run `mscgrec-trainer quantize`")
        } else {
            print(statistics.map { $0.table() }.joined(separator: "\n\n"))
        }
    }
}

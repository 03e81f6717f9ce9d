import ArgumentParser
import MSCCore

@main
struct Trainer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mscgrec-trainer",
        abstract: "Offline pipeline of MSCGRec: prepare data, build item codes, train, evaluate, write an artifact bundle.",
        version: MSCGRecVersion.string,
        // Each pipeline stage registers its subcommand here (one file per subcommand).
        subcommands: trainerSubcommands
    )
}

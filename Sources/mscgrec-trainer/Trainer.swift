import ArgumentParser
import Foundation
import BLASRuntime
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

    static func main() async {
        KernelSelection.selectKernels()   // may re-execute with faster OpenBLAS kernels, before any work starts
        do {
            var command = try parseAsRoot()
            if command is MeasuringCommand {
                FileHandle.standardError.write(Data("mscgrec-trainer \(MSCGRecVersion.string): \(KernelSelection.summaryLine)\n".utf8))
            }
            if var asyncCommand = command as? AsyncParsableCommand { try await asyncCommand.run() } else { try command.run() }
        } catch {
            exit(withError: error)
        }
    }
}

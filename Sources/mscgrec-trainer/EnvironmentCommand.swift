import ArgumentParser
import Foundation
import MSCCore

/// Prints the build's version and the machine's cores: a quick sanity check on a new machine.
struct EnvironmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Print version and runtime environment.")

    func run() throws {
        print("mscgrec-trainer \(MSCGRecVersion.string)")
        print("cpus: \(ProcessInfo.processInfo.activeProcessorCount)")
    }
}

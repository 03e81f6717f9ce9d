import ArgumentParser
import BLASRuntime

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mscgrec-bench",
        abstract: "Benchmarks that print ours-vs-reference ratios measured in one run (not tests).",
        subcommands: [EngineBench.self, GemmBench.self, SASRecBench.self, CodesBench.self, MSCGRecBench.self, BeamBench.self, TextBench.self, TextCheck.self, SynthBundleBench.self, CodeCeilingBench.self, TeacherBench.self])

    static func main() {
        KernelSelection.selectKernels()   // may re-execute with faster OpenBLAS kernels
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

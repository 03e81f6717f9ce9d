import ArgumentParser

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mscgrec-bench",
        abstract: "Benchmarks that print ours-vs-reference ratios measured in one run (not tests).",
        subcommands: [EngineBench.self, SASRecBench.self, CodesBench.self, TextBench.self, TextCheck.self])
}

import ArgumentParser

/// The work directory of the read-only commands (`stats`, `codes-stats`): a positional argument, or `--data` as every
/// other command names it, so either spelling works.
struct WorkDirectoryArgument: ParsableArguments {
    @Argument(help: "Work directory written by `prepare` (or give it as --data).")
    var work: String?

    @Option(help: "Work directory written by `prepare` (the same as the argument).")
    var data: String?

    func validate() throws {
        switch (work, data) {
        case (nil, nil): throw ValidationError("give the work directory (as an argument or with --data)")
        case (let a?, let b?) where a != b: throw ValidationError("two work directories given (\(a) and --data \(b)); give one")
        default: break
        }
    }

    /// The directory; `validate()` has guaranteed one.
    var path: String { work ?? data ?? "" }
}

import ArgumentParser

/// The trainer's stages, in pipeline order. Add a stage: one file with its command, one line here.
let trainerSubcommands: [ParsableCommand.Type] = [
    EnvironmentCommand.self,
    SynthCommand.self,
    PrepareCommand.self,
    StatsCommand.self,
    EmbedTextCommand.self,
    QuantizeCommand.self,
    RQDINOCommand.self,
    ImageCodesCommand.self,
    ImageProbeCommand.self,
    CodesStatsCommand.self,
    SASRecCommand.self,
    TrainCommand.self,
    EvaluateCommand.self,
    CompareCommand.self,
    ShapleyCommand.self,
    RunCommand.self,
    ExportCommand.self,
]

/// Commands whose output holds measured figures (losses, metrics, speeds, codes): they start by naming the CPU and
/// the BLAS kernels on stderr, so a log pasted beside a figure carries what it was measured on.
protocol MeasuringCommand {}

extension EmbedTextCommand: MeasuringCommand {}
extension QuantizeCommand: MeasuringCommand {}
extension RQDINOCommand: MeasuringCommand {}
extension ImageCodesCommand: MeasuringCommand {}
extension ImageProbeCommand: MeasuringCommand {}
extension SASRecCommand: MeasuringCommand {}
extension TrainCommand: MeasuringCommand {}
extension EvaluateCommand: MeasuringCommand {}
extension ShapleyCommand: MeasuringCommand {}
extension RunCommand: MeasuringCommand {}

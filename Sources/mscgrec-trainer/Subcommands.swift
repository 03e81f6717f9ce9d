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

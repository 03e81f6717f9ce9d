/// Whether new results record the graph. Off inside `withoutGrad` (inference, evaluation, optimiser maths).
public enum GradMode {
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording a graph: results never require grad, saving memory and time.
public func withoutGrad<T>(_ body: () throws -> T) rethrows -> T {
    try GradMode.$isEnabled.withValue(false, operation: body)
}

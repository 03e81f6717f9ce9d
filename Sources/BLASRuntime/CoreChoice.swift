/// The one decision of this module, pure so that it can be tested on any CPU: given the core OpenBLAS picked, the
/// CPU's features, the environment and (once taken) single-thread sgemm measurements of each candidate, keep OpenBLAS's
/// core, ask for measurements, or switch to a faster core.
public struct CoreDecision: Equatable, Sendable {
    public enum Action: Equatable, Sendable {
        case keep
        /// Measure these cores (OpenBLAS's own first), then decide again.
        case measure([String])
        case switchTo(String)
    }
    public var action: Action
    public var reason: String
}

public enum CoreChoice {
    /// OpenBLAS reads this when it loads; a value already set is the machine owner's and is never changed.
    public static let coreVariable = "OPENBLAS_CORETYPE"
    /// Set by us (as "core|reason") beside `OPENBLAS_CORETYPE` before re-executing, so the new process knows the
    /// variable is our choice and can say why.
    public static let chosenMarker = "MSCGREC_BLAS_CHOSEN"
    /// A faster core must beat OpenBLAS's own by this factor: timing noise alone never switches kernels.
    public static let margin = 1.10

    public static func decide(reportedCore: String, cpu: CPUInfo, environment: [String: String],
                              measurements: [String: Double]) -> CoreDecision {
        if let set = environment[coreVariable] {
            if let marker = environment[chosenMarker], let bar = marker.firstIndex(of: "|"),
               marker[..<bar].lowercased() == set.lowercased() {
                return CoreDecision(action: .keep, reason: "chosen by mscgrec: " + marker[marker.index(after: bar)...])
            }
            return CoreDecision(action: .keep, reason: "\(coreVariable)=\(set) set in the environment (respected)")
        }
        let allowed = KernelCore.allowed(on: cpu).map(\.name)
        guard !allowed.isEmpty else {
            return CoreDecision(action: .keep, reason: "CPU without AVX or unknown to us: OpenBLAS's own choice kept")
        }
        var candidates = [reportedCore]
        for name in allowed where name.lowercased() != reportedCore.lowercased() { candidates.append(name) }
        let missing = candidates.filter { measurements[$0] == nil }
        if !missing.isEmpty { return CoreDecision(action: .measure(candidates), reason: "measuring \(candidates.joined(separator: ", "))") }

        // A core whose probe crashed or computed wrong results was recorded as 0 and never wins.
        let own = measurements[reportedCore] ?? 0
        let best = candidates.dropFirst().max { (measurements[$0] ?? 0) < (measurements[$1] ?? 0) }
        let table = candidates.map { "\($0) \(gflops(measurements[$0] ?? 0))" }.joined(separator: ", ")
        guard let best, let bestRate = measurements[best], bestRate > 0, bestRate > own * margin else {
            return CoreDecision(action: .keep, reason: "OpenBLAS's \(reportedCore) kept: no allowed core beats it by \(Int(((margin - 1) * 100).rounded()))% (\(table))")
        }
        return CoreDecision(action: .switchTo(best),
                            reason: "\(best) measured fastest on this CPU, OpenBLAS picked \(reportedCore) (\(table))")
    }

    static func gflops(_ value: Double) -> String {
        value > 0 ? "\(Int(value.rounded())) GFLOP/s" : "failed"
    }
}

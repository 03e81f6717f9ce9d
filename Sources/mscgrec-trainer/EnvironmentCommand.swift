import ArgumentParser
import BLASRuntime
import Foundation
import TensorEngine
import MSCCore

/// Prints the build, the CPU and the BLAS kernels in use (and why): the first thing to look at on a new machine.
struct EnvironmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Print version, CPU and OpenBLAS kernels in use (and why they were chosen).")

    @Flag(help: "Measure every allowed OpenBLAS core again (ignores the cached measurements).")
    var measure = false

    @Flag(help: "Print only shell exports of the chosen core (nothing when OpenBLAS's own is kept), for the test runner.")
    var exports = false

    func run() throws {
        if measure { KernelSelection.selectKernels(remeasure: true) }
        let environment = ProcessInfo.processInfo.environment
        if exports {
            if let core = environment[CoreChoice.coreVariable], let marker = environment[CoreChoice.chosenMarker] {
                print("export \(CoreChoice.coreVariable)=\(shellQuoted(core)) \(CoreChoice.chosenMarker)=\(shellQuoted(marker))")
            }
            return
        }
        let cpu = CPUInfo.current()
        print("mscgrec-trainer \(MSCGRecVersion.string)")
        print("cpu: \(cpu.description), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let features = ["avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16", "amx_tile"]
        print("cpu features: " + features.map { "\($0) \(cpu.flags.contains($0) ? "yes" : "no")" }.joined(separator: ", "))
        print("openblas: \(KernelSelection.openBLASConfig)")
        print("openblas core: \(KernelSelection.loadedCore)")
        print("chosen: \(KernelSelection.decision.reason)")
        if !KernelSelection.measurements.isEmpty {
            let rows = KernelSelection.measurements.sorted { $0.value > $1.value }
            print("measured (1 thread, model-shaped sgemm): "
                  + rows.map { "\($0.key) \($0.value > 0 ? String(format: "%.0f GFLOP/s", $0.value) : "failed")" }.joined(separator: ", "))
        }
        print("blas threads: \(KernelSelection.blasThreads)")
        print("training products (matmulPrecision auto): \(MatmulPrecision.autoDescription)")
        print(KernelSelection.summaryLine + "; " + RowKernel.description)
    }

    private func shellQuoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

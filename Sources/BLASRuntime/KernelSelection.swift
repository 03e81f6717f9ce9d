import CBLAS
import CVectorMath
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Start-up of every numeric process: OpenBLAS chose its kernel table when it loaded, before `main`; when a faster
/// table is allowed on this CPU (measured once per machine, cached), set `OPENBLAS_CORETYPE` and re-execute the same
/// binary with the same arguments. Then this thread flushes denormals (threads created later inherit it). Call
/// `selectKernels()` first thing in `main`.
public enum KernelSelection {
    /// Child-process mode: measure the loaded kernels, print one JSON line, exit.
    static let probeVariable = "MSCGREC_BLAS_PROBE"

    nonisolated(unsafe) public private(set) static var decision = CoreDecision(action: .keep, reason: "selection not run")
    nonisolated(unsafe) public private(set) static var measurements: [String: Double] = [:]

    public static var loadedCore: String { String(cString: openblas_get_corename()) }
    public static var openBLASConfig: String { String(cString: openblas_get_config()) }
    /// "OpenBLAS 0.3.21": the configuration string without the loaded core's name, which it also contains.
    public static var openBLASVersion: String { openBLASConfig.split(separator: " ").prefix(2).joined(separator: " ") }
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }

    public static func selectKernels(remeasure: Bool = false) {
        let environment = ProcessInfo.processInfo.environment
        if environment[probeVariable] != nil { runProbeAndExit() }
        let cpu = CPUInfo.current()
        let cache = MeasurementCache(key: "\(cpu.description) \(cpu.flags.sorted().joined(separator: " ")) | \(openBLASVersion)")
        var known = remeasure ? [:] : cache.load()
        var choice = CoreChoice.decide(reportedCore: loadedCore, cpu: cpu, environment: environment, measurements: known)
        if case .measure(let cores) = choice.action {
            for core in cores where known[core] == nil { known[core] = measureInChild(core: core) }
            cache.store(known)
            choice = CoreChoice.decide(reportedCore: loadedCore, cpu: cpu, environment: environment, measurements: known)
        }
        measurements = known
        decision = choice
        if case .switchTo(let core) = choice.action { reexecute(core: core, reason: choice.reason) }
        _ = vm_flush_denormals()
    }

    /// One line naming the CPU and the kernels, printed by `env`, the server's start-up log and every benchmark header.
    public static var summaryLine: String {
        "CPU \(CPUInfo.current().description); OpenBLAS core \(loadedCore) (\(decision.reason)); "
            + "BLAS threads \(blasThreads); denormals \(vm_flushes_denormals() == 1 ? "flushed" : "kept")"
    }

    private static func reexecute(core: String, reason: String) {
        setenv(CoreChoice.coreVariable, core, 1)
        setenv(CoreChoice.chosenMarker, "\(core)|\(reason)", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Only reached when exec failed: carry on with the kernels we have and say so.
        unsetenv(CoreChoice.coreVariable); unsetenv(CoreChoice.chosenMarker)
        decision = CoreDecision(action: .keep, reason: "re-executing with \(core) failed (errno \(errno)); kept \(loadedCore)")
    }

    private static func runProbeAndExit() -> Never {
        let result = Probe.run()
        let line = "{\"core\":\"\(loadedCore)\",\"gflops\":\(result.gflops),\"max_relative_error\":\(result.maxRelativeError)}\n"
        FileHandle.standardOutput.write(Data(line.utf8))
        exit(0)
    }

    /// GFLOP/s of `core` in a child process (same binary), or 0 when the child crashed (SIGILL on a kernel the CPU
    /// cannot run), OpenBLAS did not take the name, or the products were wrong.
    static func measureInChild(core: String) -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = []
        var environment = ProcessInfo.processInfo.environment
        environment[probeVariable] = "1"
        environment[CoreChoice.coreVariable] = core
        environment["OPENBLAS_NUM_THREADS"] = "1"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return 0 }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0,
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let reported = object["core"] as? String, reported.lowercased() == core.lowercased(),
              let gflops = object["gflops"] as? Double,
              let error = object["max_relative_error"] as? Double, error < 1e-4
        else { return 0 }
        return gflops
    }
}

/// Measurements per core, kept in the user's cache directory keyed by CPU and OpenBLAS build, so only the first run
/// on a machine pays for them (about a second). Unreadable or unwritable caches just mean measuring again.
struct MeasurementCache {
    let key: String

    var url: URL {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: environment["HOME"] ?? NSTemporaryDirectory()).appendingPathComponent(".cache")
        return base.appendingPathComponent("mscgrec/blas-cores-v1.json")
    }

    func load() -> [String: Double] {
        guard let data = try? Data(contentsOf: url),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              object["key"] as? String == key, let values = object["gflops"] as? [String: Double]
        else { return [:] }
        return values
    }

    func store(_ values: [String: Double]) {
        guard let data = try? JSONSerialization.data(withJSONObject: ["key": key, "gflops": values], options: [.sortedKeys])
        else { return }
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let temporary = url.appendingPathExtension("tmp-\(getpid())")
        guard (try? data.write(to: temporary)) != nil else { return }
        if rename(temporary.path, url.path) != 0 { try? FileManager.default.removeItem(at: temporary) }
    }
}

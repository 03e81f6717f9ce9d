import XCTest
@testable import BLASRuntime

final class CoreChoiceTests: XCTestCase {
    static let avx512 = ["sse3", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
    /// Intel Xeon family 6 model 207 (Emerald Rapids): OpenBLAS 0.3.21 does not know it and loads Prescott.
    let emeraldRapids = CPUInfo(vendor: "GenuineIntel", family: 6, model: 207, modelName: "INTEL(R) XEON(R) PLATINUM 8581C",
                                flags: Set(avx512 + ["avx512_bf16", "amx_tile"]))
    let epyc = CPUInfo(vendor: "AuthenticAMD", family: 26, model: 2, modelName: "AMD EPYC", flags: Set(avx512 + ["avx512_bf16"]))
    let oldCPU = CPUInfo(vendor: "GenuineIntel", family: 6, model: 15, modelName: "Core 2", flags: ["sse3", "ssse3"])

    func testUnknownIntelAsksToMeasureEveryAllowedCoreWithOpenBLASsOwnFirst() {
        let d = CoreChoice.decide(reportedCore: "Prescott", cpu: emeraldRapids, environment: [:], measurements: [:])
        XCTAssertEqual(d.action, .measure(["Prescott", "Cooperlake", "SkylakeX", "Haswell", "Sandybridge"]))
    }

    func testMeasuredFastestCoreIsChosenNotTheNewestName() {
        // The figures of issue 10 on Emerald Rapids: Cooperlake wins; on a CPU where SkylakeX measures faster, SkylakeX does.
        var rates = ["Prescott": 30, "Cooperlake": 144, "SkylakeX": 73, "Haswell": 67, "Sandybridge": 40.0]
        var d = CoreChoice.decide(reportedCore: "Prescott", cpu: emeraldRapids, environment: [:], measurements: rates)
        XCTAssertEqual(d.action, .switchTo("Cooperlake"))
        XCTAssertTrue(d.reason.contains("Cooperlake 144 GFLOP/s"), d.reason)
        rates["SkylakeX"] = 190
        d = CoreChoice.decide(reportedCore: "Prescott", cpu: emeraldRapids, environment: [:], measurements: rates)
        XCTAssertEqual(d.action, .switchTo("SkylakeX"))
    }

    func testOpenBLASsChoiceIsKeptWhenNothingIsClearlyFaster() {
        let rates = ["Haswell": 120, "Cooperlake": 128, "SkylakeX": 125, "Sandybridge": 60.0]   // within the 10% margin
        let d = CoreChoice.decide(reportedCore: "Haswell", cpu: epyc, environment: [:], measurements: rates)
        XCTAssertEqual(d.action, .keep)
        XCTAssertTrue(d.reason.contains("Haswell kept: no allowed core beats it by 10% (Haswell 120 GFLOP/s, "), d.reason)
    }

    func testACrashedOrWrongProbeNeverWins() {
        let rates = ["Prescott": 30, "Cooperlake": 0, "SkylakeX": 0, "Haswell": 0, "Sandybridge": 0.0]
        let d = CoreChoice.decide(reportedCore: "Prescott", cpu: emeraldRapids, environment: [:], measurements: rates)
        XCTAssertEqual(d.action, .keep)
        XCTAssertTrue(d.reason.contains("Cooperlake failed"), d.reason)
    }

    func testAnExplicitCoretypeIsAlwaysRespected() {
        for set in ["Prescott", "Haswell", "NotACore"] {
            let d = CoreChoice.decide(reportedCore: "Prescott", cpu: emeraldRapids, environment: ["OPENBLAS_CORETYPE": set],
                                      measurements: ["Prescott": 1, "Cooperlake": 1000])
            XCTAssertEqual(d.action, .keep)
            XCTAssertEqual(d.reason, "OPENBLAS_CORETYPE=\(set) set in the environment (respected)")
        }
    }

    func testOurOwnChoiceIsRecognisedAfterReexecution() {
        let env = ["OPENBLAS_CORETYPE": "Cooperlake", "MSCGREC_BLAS_CHOSEN": "Cooperlake|Cooperlake measured fastest"]
        let d = CoreChoice.decide(reportedCore: "Cooperlake", cpu: emeraldRapids, environment: env, measurements: [:])
        XCTAssertEqual(d, CoreDecision(action: .keep, reason: "chosen by mscgrec: Cooperlake measured fastest"))
        // A marker that does not match the variable (the user changed it) is the user's choice, not ours.
        let changed = ["OPENBLAS_CORETYPE": "Haswell", "MSCGREC_BLAS_CHOSEN": "Cooperlake|old"]
        XCTAssertEqual(CoreChoice.decide(reportedCore: "Haswell", cpu: emeraldRapids, environment: changed, measurements: [:]).action, .keep)
        XCTAssertTrue(CoreChoice.decide(reportedCore: "Haswell", cpu: emeraldRapids, environment: changed, measurements: [:])
            .reason.contains("respected"))
    }

    func testCPUUnknownToUsKeepsOpenBLASsChoiceWithoutMeasuring() {
        let unknown = CPUInfo(vendor: "", family: -1, model: -1, modelName: "unknown CPU", flags: [])
        for cpu in [unknown, oldCPU] {
            let d = CoreChoice.decide(reportedCore: "Prescott", cpu: cpu, environment: [:], measurements: [:])
            XCTAssertEqual(d.action, .keep, cpu.modelName)
        }
    }

    func testAllowedCoresFollowTheCPUsFeatures() {
        XCTAssertEqual(KernelCore.allowed(on: epyc).map(\.name), ["Cooperlake", "SkylakeX", "Haswell", "Sandybridge"])
        var noBF16 = epyc; noBF16.flags.remove("avx512_bf16")
        XCTAssertEqual(KernelCore.allowed(on: noBF16).map(\.name), ["SkylakeX", "Haswell", "Sandybridge"])
        var avx2Only = noBF16; avx2Only.flags.remove("avx512vl")
        XCTAssertEqual(KernelCore.allowed(on: avx2Only).map(\.name), ["Haswell", "Sandybridge"])
    }

    func testCpuinfoParsingReadsTheFirstProcessor() {
        let text = """
        processor\t: 0
        vendor_id\t: GenuineIntel
        cpu family\t: 6
        model\t\t: 207
        model name\t: INTEL(R) XEON(R) PLATINUM 8581C CPU @ 2.10GHz
        flags\t\t: fpu sse3 avx avx2 fma avx512f avx512_bf16

        processor\t: 1
        model name\t: something else
        """
        let cpu = CPUInfo.parse(text)
        XCTAssertEqual(cpu.vendor, "GenuineIntel")
        XCTAssertEqual(cpu.family, 6)
        XCTAssertEqual(cpu.model, 207)
        XCTAssertEqual(cpu.modelName, "INTEL(R) XEON(R) PLATINUM 8581C CPU @ 2.10GHz")
        XCTAssertTrue(cpu.has(["avx512f", "avx512_bf16", "fma"]))
        XCTAssertFalse(cpu.has(["avx512vl"]))
    }
}

/// The kernels actually loaded in this test process (whatever core the environment or the test runner chose) must
/// compute sgemm right at the model's shapes and every transpose form.
final class LoadedKernelTests: XCTestCase {
    func testLoadedKernelsMatchTheNaiveReference() {
        let error = Probe.maxRelativeError()
        XCTAssertLessThan(error, 1e-4, "OpenBLAS core \(KernelSelection.loadedCore) computes sgemm wrong (max relative error \(error))")
    }

    func testProbeNaiveReferenceIsRight() {
        // 2×2 by hand: [[1,2],[3,4]]·[[5,6],[7,8]] = [[19,22],[43,50]]; transposed A reads [[1,3],[2,4]].
        XCTAssertEqual(Probe.naive(2, 2, 2, false, false, [1, 2, 3, 4], [5, 6, 7, 8]), [19, 22, 43, 50])
        XCTAssertEqual(Probe.naive(2, 2, 2, true, false, [1, 2, 3, 4], [5, 6, 7, 8]), [26, 30, 38, 44])
        XCTAssertEqual(Probe.naive(2, 2, 2, false, true, [1, 2, 3, 4], [5, 6, 7, 8]), [17, 23, 39, 53])
    }
}

/// The OpenBLAS (0.3.21, DYNAMIC_ARCH) x86-64 kernel tables we may choose between, with the CPUID features each one's
/// kernels execute. A core may only be chosen when the CPU has every feature it needs: a kernel using an instruction the
/// CPU lacks dies with SIGILL.
public struct KernelCore: Equatable, Sendable {
    public let name: String
    /// Instruction-set tier: 0 SSE only, 1 AVX, 2 AVX2+FMA, 3 AVX-512, 4 AVX-512 with BF16.
    public let tier: Int
    public let requiredFlags: [String]

    static let avx512 = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]

    /// The cores worth choosing, best instruction set first. Which of them is fastest is not in this table: on an Intel
    /// Emerald Rapids Cooperlake runs at twice SkylakeX's speed, so the choice among the allowed ones is measured.
    public static let choosable: [KernelCore] = [
        KernelCore(name: "Cooperlake", tier: 4, requiredFlags: avx512 + ["avx512_bf16", "avx2", "fma"]),
        KernelCore(name: "SkylakeX", tier: 3, requiredFlags: avx512 + ["avx2", "fma"]),
        KernelCore(name: "Haswell", tier: 2, requiredFlags: ["avx2", "fma"]),
        KernelCore(name: "Sandybridge", tier: 1, requiredFlags: ["avx"]),
    ]

    /// The tier of a core name as `openblas_get_corename()` reports it (case-insensitive); unknown names count as SSE.
    public static func tier(ofReported name: String) -> Int {
        switch name.lowercased() {
        case "cooperlake", "sapphirerapids": return 4
        case "skylakex": return 3
        case "haswell", "zen": return 2
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator": return 1
        default: return 0
        }
    }

    /// The cores this CPU can run, best tier first.
    public static func allowed(on cpu: CPUInfo) -> [KernelCore] { choosable.filter { cpu.has($0.requiredFlags) } }
}

import Foundation

/// What the CPU says about itself, as Linux reports CPUID in `/proc/cpuinfo` (first processor only: the machines we
/// run on are homogeneous).
public struct CPUInfo: Equatable, Sendable {
    public var vendor: String
    public var family: Int
    public var model: Int
    public var modelName: String
    public var flags: Set<String>

    public init(vendor: String, family: Int, model: Int, modelName: String, flags: Set<String>) {
        self.vendor = vendor; self.family = family; self.model = model; self.modelName = modelName; self.flags = flags
    }

    /// Parses the text of `/proc/cpuinfo`; missing fields stay empty (an unknown CPU, not an error).
    public static func parse(_ text: String) -> CPUInfo {
        var info = CPUInfo(vendor: "", family: -1, model: -1, modelName: "unknown CPU", flags: [])
        var seen = Set<String>()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty, !seen.isEmpty { break }   // end of the first processor's block
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard seen.insert(key).inserted else { continue }
            switch key {
            case "vendor_id": info.vendor = value
            case "cpu family": info.family = Int(value) ?? -1
            case "model": info.model = Int(value) ?? -1
            case "model name": info.modelName = value
            case "flags": info.flags = Set(value.split(separator: " ").map(String.init))
            default: break
            }
        }
        return info
    }

    public static func current() -> CPUInfo {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            return CPUInfo(vendor: "", family: -1, model: -1, modelName: "unknown CPU", flags: [])
        }
        return parse(text)
    }

    /// "AMD EPYC (AuthenticAMD family 26 model 2)": the name alone is often generic under a hypervisor.
    public var description: String { "\(modelName) (\(vendor) family \(family) model \(model))" }

    public func has(_ features: [String]) -> Bool { features.allSatisfy(flags.contains) }
}

import Configuration
import Foundation

/// Every server setting with its default. Read in three layers (apple/swift-configuration): the JSON file
/// (`--config`), overridden by `MSCGREC_*` environment variables (`batching.maxBatch` ↔ `MSCGREC_BATCHING_MAX_BATCH`),
/// overridden by command-line flags. `configs/server.json` lists them all; README's table documents them.
public struct ServerSettings: Sendable, Equatable {
    /// Bundle root: serves `ROOT/current`.
    public var bundles = "bundles"
    public var host = "127.0.0.1"
    public var port = 8080
    public var maxBodyBytes = 64 * 1024
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Beam width (paper 4.1); `k` may be 1…beams.
    public var beams = 20
    public var maxBatch = 64
    public var maxDelayMilliseconds = 2.0
    public var queueCapacity = 1024
    /// Concurrent batch computations (single-threaded BLAS in each): the cores.
    public var workers = ProcessInfo.processInfo.activeProcessorCount
    public var requestTimeoutMilliseconds = 2000
    /// How often `ROOT/current` is checked for a new target (0: only SIGHUP and the admin endpoint reload).
    public var watchIntervalMilliseconds = 1000
    /// Bearer token of `POST /admin/reload`; the endpoint is refused while none is set.
    public var adminToken: String?
    /// `text` (key=value) or `json` (one JSON object per line).
    public var logFormat = "text"
    public var logLevel = "info"
    public var shutdownGraceSeconds = 10.0

    public init() {}

    /// The keys, as they appear in the JSON file (dotted path) and, upper-cased, in the environment.
    public static let keys = [
        "bundles", "http.host", "http.port", "http.maxBodyBytes", "http.tlsCertificate", "http.tlsKey", "search.beams",
        "batching.maxBatch", "batching.maxDelayMilliseconds", "batching.queueCapacity", "batching.workers",
        "batching.requestTimeoutMilliseconds", "reload.watchIntervalMilliseconds", "reload.adminToken", "log.format",
        "log.level", "shutdownGraceSeconds",
    ]

    /// Reads the layers; `flags` are the command line's values by key. Unknown keys in the file and values of the
    /// wrong type are errors naming the key, not silently ignored.
    /// `MSCGREC_*` variables of the process, not settings: the OpenBLAS kernel choice's re-execution marker and probe
    /// mode (BLASRuntime) and the row-kernel switch (TensorEngine).
    static let processVariables: Set<String> = ["MSCGREC_BLAS_CHOSEN", "MSCGREC_BLAS_PROBE", "MSCGREC_ROW_KERNEL"]

    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                            flags: [String: String] = [:]) async throws -> ServerSettings {
        var providers: [any ConfigProvider] = []
        providers.append(InMemoryProvider(name: "flags", values: Dictionary(uniqueKeysWithValues: flags.map {
            (AbsoluteConfigKey($0.key.split(separator: ".").map(String.init)), ConfigValue(.string($0.value), isSecret: $0.key == "reload.adminToken"))
        })))
        let prefix = "MSCGREC_"
        let ours = environment.filter { $0.key.hasPrefix(prefix) && !processVariables.contains($0.key) }
        providers.append(EnvironmentVariablesProvider(environmentVariables: Dictionary(uniqueKeysWithValues: ours.map { (String($0.key.dropFirst(prefix.count)), $0.value) }),
                                                      secretsSpecifier: .specific(["RELOAD_ADMIN_TOKEN"])))
        if let file {
            try checkFileKeys(file)
            providers.append(try await FileProvider<JSONSnapshot>(filePath: .init(file)))
        }
        let envKeys = Set(keys.map { environmentName($0) })
        if let stray = ours.keys.sorted().first(where: { !envKeys.contains($0) }) {
            throw SettingsError("unknown environment variable \(stray) (known: \(envKeys.sorted().joined(separator: ", ")))")
        }
        let reader = ConfigReader(providers: providers)
        var s = ServerSettings()
        func string(_ key: String) -> String? { reader.string(forKey: ConfigKey(key), isSecret: key == "reload.adminToken") }
        func int(_ key: String, _ value: inout Int, minimum: Int) throws {
            if let v = reader.int(forKey: ConfigKey(key)) ?? string(key).flatMap({ Int($0) }) { value = v } else if let raw = string(key) {
                throw SettingsError("\(key) (\(environmentName(key))) = \"\(raw)\": not an integer")
            }
            guard value >= minimum else { throw SettingsError("\(key) = \(value): must be at least \(minimum)") }
        }
        func double(_ key: String, _ value: inout Double, minimum: Double) throws {
            if let v = reader.double(forKey: ConfigKey(key)) ?? string(key).flatMap({ Double($0) }) { value = v } else if let raw = string(key) {
                throw SettingsError("\(key) (\(environmentName(key))) = \"\(raw)\": not a number")
            }
            guard value >= minimum, value.isFinite else { throw SettingsError("\(key) = \(value): must be at least \(minimum)") }
        }
        s.bundles = string("bundles") ?? s.bundles
        s.host = string("http.host") ?? s.host
        try int("http.port", &s.port, minimum: 0)
        guard s.port <= 65535 else { throw SettingsError("http.port = \(s.port): must be 0…65535") }
        try int("http.maxBodyBytes", &s.maxBodyBytes, minimum: 64)
        s.tlsCertificate = string("http.tlsCertificate")
        s.tlsKey = string("http.tlsKey")
        guard (s.tlsCertificate == nil) == (s.tlsKey == nil) else { throw SettingsError("http.tlsCertificate and http.tlsKey go together") }
        try int("search.beams", &s.beams, minimum: 1)
        try int("batching.maxBatch", &s.maxBatch, minimum: 1)
        try double("batching.maxDelayMilliseconds", &s.maxDelayMilliseconds, minimum: 0)
        try int("batching.queueCapacity", &s.queueCapacity, minimum: 1)
        try int("batching.workers", &s.workers, minimum: 1)
        try int("batching.requestTimeoutMilliseconds", &s.requestTimeoutMilliseconds, minimum: 1)
        try int("reload.watchIntervalMilliseconds", &s.watchIntervalMilliseconds, minimum: 0)
        s.adminToken = string("reload.adminToken").flatMap { $0.isEmpty ? nil : $0 }
        s.logFormat = string("log.format") ?? s.logFormat
        guard ["text", "json"].contains(s.logFormat) else { throw SettingsError("log.format = \"\(s.logFormat)\": use text or json") }
        s.logLevel = string("log.level") ?? s.logLevel
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(s.logLevel) else {
            throw SettingsError("log.level = \"\(s.logLevel)\": use trace, debug, info, notice, warning, error or critical")
        }
        try double("shutdownGraceSeconds", &s.shutdownGraceSeconds, minimum: 0)
        return s
    }

    public static func environmentName(_ key: String) -> String {
        var name = ""
        for character in key {
            if character == "." { name += "_" } else if character.isUppercase { name += "_\(character)" } else { name += character.uppercased() }
        }
        return "MSCGREC_" + name
    }

    /// The file must be a JSON object whose leaves are known keys (a typo would otherwise silently keep a default).
    static func checkFileKeys(_ file: String) throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw SettingsError("\(file): cannot read the server config") }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw SettingsError("\(file): not a JSON object")
        }
        func walk(_ value: [String: Any], _ prefix: String) throws {
            for (key, child) in value {
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                if let nested = child as? [String: Any], !keys.contains(path) { try walk(nested, path); continue }
                guard keys.contains(path) else { throw SettingsError("\(file): unknown setting \"\(path)\" (known: \(keys.joined(separator: ", ")))") }
            }
        }
        try walk(object, "")
    }
}

public struct SettingsError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

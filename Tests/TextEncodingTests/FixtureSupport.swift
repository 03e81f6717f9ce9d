import Foundation
import XCTest

/// Fixtures written by scripts/make_text_fixtures.py, and the real models unpacked by scripts/unpack_text_models.sh.
enum Fixtures {
    static var directory: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures") }
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static func json<T>(_ name: String, as: T.Type = T.self) throws -> T {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        guard let value = try JSONSerialization.jsonObject(with: data) as? T else {
            throw NSError(domain: "fixture", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(name) has an unexpected shape"])
        }
        return value
    }

    static var texts: [String] { get throws { try json("texts.json") } }

    static func ids(_ value: Any) -> [[Int32]] {
        (value as! [[NSNumber]]).map { $0.map { Int32(truncating: $0) } }
    }

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
    }

    /// The real model directory `name` (all-MiniLM-L6-v2, all-mpnet-base-v2), unpacked by `make test` (which sets
    /// MSCGREC_TEXT_MODELS) or by scripts/unpack_text_models.sh into .build/text-models. A missing model is a failure,
    /// never a skip: the equality checks against sentence-transformers must run wherever the tests run.
    static func realModel(_ name: String) throws -> String {
        let env = ProcessInfo.processInfo.environment["MSCGREC_TEXT_MODELS"]
        let root = env ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/text-models").path
        let path = "\(root)/\(name)"
        guard FileManager.default.fileExists(atPath: "\(path)/model.safetensors") else {
            throw NSError(domain: "fixture", code: 2, userInfo: [NSLocalizedDescriptionKey:
                "\(path) has no model.safetensors: run scripts/unpack_text_models.sh \(root) (make test does)"])
        }
        return path
    }
}

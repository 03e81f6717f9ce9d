import Foundation

/// The files of a Hugging Face / sentence-transformers model directory and typed access to their JSON.
public struct ModelDirectory: Sendable {
    public let url: URL

    public init(_ path: String) throws {
        url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TextEncodingError.missingFile(path: path, hint: "expected a model directory with config.json, tokenizer.json or vocab.txt, model.safetensors")
        }
    }

    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }
    public func has(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name).path) }

    /// A JSON object file, or nil when the file is absent and optional.
    public func json(_ name: String, required: Bool, hint: String = "") throws -> JSONObject? {
        let path = file(name).path
        guard has(name) else {
            if required { throw TextEncodingError.missingFile(path: path, hint: hint.isEmpty ? "required by every model" : hint) }
            return nil
        }
        let data: Data
        do { data = try Data(contentsOf: file(name)) } catch {
            throw TextEncodingError.unreadable(path: path, reason: error.localizedDescription)
        }
        let value: Any
        do { value = try JSONSerialization.jsonObject(with: data) } catch {
            throw TextEncodingError.malformed(path: path, field: "(file)", reason: "not valid JSON")
        }
        guard let object = value as? [String: Any] else {
            throw TextEncodingError.malformed(path: path, field: "(file)", reason: "expected a JSON object")
        }
        return JSONObject(object, path: path)
    }
}

/// A JSON object that knows which file it came from, so every failed lookup names the file and the field.
public struct JSONObject: @unchecked Sendable {
    // @unchecked: the dictionary is JSONSerialization's immutable output, only ever read.
    public let values: [String: Any]
    public let path: String
    let prefix: String

    init(_ values: [String: Any], path: String, prefix: String = "") {
        self.values = values
        self.path = path
        self.prefix = prefix
    }

    func name(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }

    public func has(_ key: String) -> Bool { values[key] != nil && !(values[key] is NSNull) }

    public func int(_ key: String) throws -> Int? {
        guard has(key) else { return nil }
        if let n = values[key] as? NSNumber {
            let d = n.doubleValue
            guard d == d.rounded(), abs(d) < 1e15 else {
                throw TextEncodingError.malformed(path: path, field: name(key), reason: "expected an integer, got \(n)")
            }
            return Int(d)
        }
        throw TextEncodingError.malformed(path: path, field: name(key), reason: "expected an integer")
    }

    public func requiredInt(_ key: String) throws -> Int {
        guard let v = try int(key) else { throw TextEncodingError.malformed(path: path, field: name(key), reason: "missing") }
        return v
    }

    public func double(_ key: String) throws -> Double? {
        guard has(key) else { return nil }
        guard let n = values[key] as? NSNumber else {
            throw TextEncodingError.malformed(path: path, field: name(key), reason: "expected a number")
        }
        return n.doubleValue
    }

    public func bool(_ key: String) throws -> Bool? {
        guard has(key) else { return nil }
        guard let b = values[key] as? Bool else {
            throw TextEncodingError.malformed(path: path, field: name(key), reason: "expected true or false")
        }
        return b
    }

    public func string(_ key: String) throws -> String? {
        guard has(key) else { return nil }
        guard let s = values[key] as? String else {
            throw TextEncodingError.malformed(path: path, field: name(key), reason: "expected a string")
        }
        return s
    }

    public func object(_ key: String) throws -> JSONObject? {
        guard has(key) else { return nil }
        guard let o = values[key] as? [String: Any] else {
            throw TextEncodingError.malformed(path: path, field: name(key), reason: "expected an object")
        }
        return JSONObject(o, path: path, prefix: name(key))
    }

    public func array(_ key: String) throws -> [Any]? {
        guard has(key) else { return nil }
        guard let a = values[key] as? [Any] else {
            throw TextEncodingError.malformed(path: path, field: name(key), reason: "expected an array")
        }
        return a
    }

    public func fail(_ key: String, _ reason: String) -> TextEncodingError {
        .malformed(path: path, field: name(key), reason: reason)
    }
}

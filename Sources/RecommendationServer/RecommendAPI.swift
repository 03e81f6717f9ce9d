import Foundation
import HTTPCore

/// An API error: the HTTP status and the `{"error": {"code", "message"}}` body openapi.yaml documents.
public struct APIError: Error, Equatable, Sendable {
    public var status: Int
    public var code: String
    public var message: String
    public init(_ status: Int, _ code: String, _ message: String) { self.status = status; self.code = code; self.message = message }

    public var response: HTTPResponse {
        struct Body: Encodable { struct Inner: Encodable { var code: String; var message: String }; var error: Inner }
        let data = (try? JSONEncoder().encode(Body(error: .init(code: code, message: message)))) ?? Data("{}".utf8)
        return HTTPResponse(status: status, headers: ["content-type": "application/json"], body: Array(data))
    }
}

/// `POST /recommend`'s body. Strict: unknown fields and wrong types are 422 naming the field; bytes that are not
/// JSON are 400.
public struct RecommendRequest: Decodable, Equatable, Sendable {
    public var history: [String]
    /// nil: `min(defaultK, beam width)`.
    public var k: Int?
    public var excludeHistory: Bool

    public static let defaultK = 10

    enum CodingKeys: String, CodingKey, CaseIterable { case history, k, excludeHistory = "exclude_history" }

    public init(history: [String], k: Int? = nil, excludeHistory: Bool = true) {
        self.history = history; self.k = k; self.excludeHistory = excludeHistory
    }

    public init(from decoder: any Decoder) throws {
        struct AnyKey: CodingKey {
            var stringValue: String; var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw APIError(422, "unknown_field", "unknown field \"\(unknown)\" (allowed: history, k, exclude_history)")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        history = try c.decode([String].self, forKey: .history)
        // Present means present: `null` is a wrong type, not "use the default".
        k = c.contains(.k) ? try c.decode(Int.self, forKey: .k) : nil
        excludeHistory = c.contains(.excludeHistory) ? try c.decode(Bool.self, forKey: .excludeHistory) : true
    }

    /// Decodes `body`, turning every failure into the API error a client can act on.
    public static func decode(_ body: [UInt8]) throws(APIError) -> RecommendRequest {
        guard !body.isEmpty else { throw APIError(400, "empty_body", "the request body is empty; send a JSON object with \"history\"") }
        // Parse first: malformed bytes are a 400, well-formed JSON of the wrong shape a 422.
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) else {
            throw APIError(400, "malformed_json", "the request body is not valid JSON")
        }
        guard parsed is [String: Any] else { throw APIError(422, "invalid_type", "the request body must be a JSON object") }
        do { return try JSONDecoder().decode(RecommendRequest.self, from: Data(body)) } catch let error as APIError {
            throw error
        } catch let error as DecodingError {
            throw APIError(422, "invalid_field", describe(error))
        } catch {
            throw APIError(422, "invalid_field", "\(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.reduce("") { text, key in key.intValue.map { "\(text)[\($0)]" } ?? (text.isEmpty ? key.stringValue : "\(text).\(key.stringValue)") }
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing field \"\(path(context.codingPath + [key]))\""
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let expected = type == String.self ? "a string" : type == Int.self ? "an integer" : type == Bool.self ? "true or false"
                : "an array"
            return "\"\(path(context.codingPath))\" must be \(expected)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "the request body is not valid JSON" : "\"\(path(context.codingPath))\": \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// `POST /admin/reload`'s check: `Authorization: Bearer <token>`, compared in constant time (no timing oracle).
public enum AdminAuthorization {
    public static func allows(header: String?, token: String) -> Bool {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return false }
        let (given, expected) = (Array(header.utf8.dropFirst(7)), Array(token.utf8))
        guard given.count == expected.count, !expected.isEmpty else { return false }
        return zip(given, expected).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// `POST /recommend`'s answer.
public struct RecommendResponse: Codable, Equatable, Sendable {
    public struct Item: Codable, Equatable, Sendable {
        public var id: String
        public var score: Float
        public var title: String
    }
    public var modelVersion: String
    public var items: [Item]
    public var unknownItems: [String]

    enum CodingKeys: String, CodingKey { case modelVersion = "model_version", items, unknownItems = "unknown_items" }
}

/// `GET /items/{id}`'s answer.
public struct ItemResponse: Codable, Equatable, Sendable {
    public var id: String
    public var title: String
    public var codes: [String: [Int32]]
}

extension HTTPResponse {
    static func json(_ value: some Encodable, status: Int = 200) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return HTTPResponse(status: status, headers: ["content-type": "application/json"], body: Array(data))
    }
}

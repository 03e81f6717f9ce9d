import Foundation

/// Routes by method and path pattern. Patterns are literal segments and `{name}` parameters (`/items/{id}`), matched
/// segment by segment; parameters are percent-decoded into `request.pathParameters`. A path matching no pattern gets
/// 404; a path matching only under other methods gets 405 with an `allow` header. HEAD falls back to GET.
public struct Router: HTTPHandler {
    private enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    private struct Route: Sendable {
        let method: String
        let segments: [Segment]
        let handler: any HTTPHandler
    }

    private var routes: [Route] = []

    /// When set, the 404 or 405 the router would send goes through this instead (the caller answers with it), so an
    /// application can count and log requests no route took.
    public var unmatched: (@Sendable (HTTPRequest, HTTPResponder, HTTPResponse) -> Void)?

    public init() {}

    /// Adds a route; `handler` may answer later from another thread.
    public mutating func add(_ method: String, _ pattern: String, _ handler: any HTTPHandler) {
        let segments = Router.split(pattern).map { part -> Segment in
            if part.hasPrefix("{") && part.hasSuffix("}") && part.count > 2 {
                return .parameter(String(part.dropFirst().dropLast()))
            }
            return .literal(String(part))
        }
        routes.append(Route(method: method.uppercased(), segments: segments, handler: handler))
    }

    public mutating func get(_ pattern: String, _ body: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        add("GET", pattern, SyncHandler(body))
    }

    public mutating func post(_ pattern: String, _ body: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        add("POST", pattern, SyncHandler(body))
    }

    /// Callback form: keep `responder` and answer whenever (and wherever) the result is ready.
    public mutating func on(_ method: String, _ pattern: String,
                            _ body: @escaping @Sendable (HTTPRequest, HTTPResponder) -> Void) {
        add(method, pattern, ClosureHandler(body))
    }

    public func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        let parts = Router.split(request.path)
        var allowed: [String] = []
        var fallback: (Route, [String: String])?
        for route in routes {
            guard let params = Router.match(route.segments, parts) else { continue }
            if route.method == request.method {
                var request = request
                request.pathParameters = params
                route.handler.handle(request, responder: responder)
                return
            }
            if request.method == "HEAD" && route.method == "GET" && fallback == nil { fallback = (route, params) }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        if let (route, params) = fallback {
            var request = request
            request.pathParameters = params
            route.handler.handle(request, responder: responder)
            return
        }
        var response: HTTPResponse
        if allowed.isEmpty {
            response = .jsonError(status: 404, "no route for \(request.path)")
        } else {
            response = HTTPResponse.jsonError(status: 405, "method \(request.method) not allowed on \(request.path)")
            if allowed.contains("GET") && !allowed.contains("HEAD") { allowed.append("HEAD") }
            response.headers.set("allow", allowed.joined(separator: ", "))
        }
        if let unmatched { unmatched(request, responder, response) } else { responder.respond(response) }
    }

    private static func split(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }

    private static func match(_ segments: [Segment], _ parts: [Substring]) -> [String: String]? {
        guard segments.count == parts.count else { return nil }
        var params: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let text):
                if text != part { return nil }
            case .parameter(let name):
                guard let decoded = String(part).removingPercentEncoding, !decoded.isEmpty else { return nil }
                params[name] = decoded
            }
        }
        return params
    }
}

// MARK: JSON helpers

/// A request body that could not be decoded; `description` names the field that failed.
public struct JSONBodyError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

extension HTTPResponse {
    /// `value` encoded as JSON with `content-type: application/json`.
    public static func json<T: Encodable>(_ value: T, status: Int = 200) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            let data = try encoder.encode(value)
            return HTTPResponse(status: status, headers: ["content-type": "application/json"], body: Array(data))
        } catch {
            return .jsonError(status: 500, "response could not be encoded: \(error)")
        }
    }

    /// `{"error": message}` with the given status.
    public static func jsonError(status: Int, _ message: String) -> HTTPResponse {
        var body = Array(#"{"error":"#.utf8)
        body += jsonStringLiteral(message)
        body.append(UInt8(ascii: "}"))
        return HTTPResponse(status: status, headers: ["content-type": "application/json"], body: body)
    }
}

extension HTTPRequest {
    /// Decodes the body as JSON; the error names the offending field path.
    public func decodeJSON<T: Decodable>(_ type: T.Type) throws(JSONBodyError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch let DecodingError.keyNotFound(key, context) {
            throw JSONBodyError(description: "missing field '\(Self.path(context.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw JSONBodyError(description: "wrong type at '\(Self.path(context.codingPath))': \(context.debugDescription)")
        } catch let DecodingError.dataCorrupted(context) {
            throw JSONBodyError(description: "invalid JSON at '\(Self.path(context.codingPath))': \(context.debugDescription)")
        } catch {
            throw JSONBodyError(description: "invalid JSON body: \(error)")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "$" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

/// A JSON string literal (with quotes) for `text`.
func jsonStringLiteral(_ text: String) -> [UInt8] {
    var out: [UInt8] = [UInt8(ascii: "\"")]
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""): out += [92, 34]
        case UInt8(ascii: "\\"): out += [92, 92]
        case 10: out += [92, UInt8(ascii: "n")]
        case 13: out += [92, UInt8(ascii: "r")]
        case 9: out += [92, UInt8(ascii: "t")]
        case 0..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
        default: out.append(byte)
        }
    }
    out.append(UInt8(ascii: "\""))
    return out
}

import XCTest
import MSCCore

@testable import Datasets

final class JSONParserTests: XCTestCase {
    private func parse(_ text: String) throws -> JSONValue {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { try parseJSONDocument($0) }
    }

    private func syntaxError(_ text: String) -> JSONSyntaxError? {
        do {
            _ = try parse(text)
            return nil
        } catch { return error as? JSONSyntaxError }
    }

    func testValuesOfEveryKind() throws {
        let value = try parse(#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}, "e": ""} "#)
        XCTAssertEqual(
            value,
            .object([
                (key: "a", value: .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null])),
                (key: "b", value: .object([(key: "c", value: .string("d"))])),
                (key: "e", value: .string("")),
            ]))
        XCTAssertEqual(value["a"]?.text(joiningWith: ","), "1,-2.5e3,true,false")
        XCTAssertEqual(value["b"]?["c"]?.string, "d")
    }

    func testNumbersKeepTheirTextSoMillisecondTimestampsStayExact() throws {
        XCTAssertEqual(try parse("1588687728923").int, 1_588_687_728_923)
        XCTAssertEqual(try parse("9007199254740993").int, 9_007_199_254_740_993)  // 2^53 + 1, not representable as Double
        XCTAssertEqual(try parse("881250949.0").int, 881_250_949)
        XCTAssertNil(try parse("1.5").int)
    }

    func testStringEscapesAndSurrogatePairs() throws {
        XCTAssertEqual(try parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#).string, "a\"b\\c/d\n\té😀")
        XCTAssertEqual(try parse(#""lone \ud800 surrogate""#).string, "lone \u{FFFD} surrogate")
        XCTAssertEqual(try parse("\"Nail Polish – Teal\"").string, "Nail Polish – Teal")
    }

    func testQuotingRoundTrips() throws {
        for text in ["plain", "", "quote \" backslash \\ slash /", "tab\tnewline\n\u{1}\u{1F}", "é – 😀"] {
            XCTAssertEqual(try parse(jsonQuoted(text)).string, text)
        }
    }

    func testSyntaxErrorsCarryTheirOffset() throws {
        let text = "{\n\"a\": [1, 2,\n ]\n}"
        let error = try XCTUnwrap(syntaxError(text))
        let line = Array(text.utf8).withUnsafeBufferPointer { error.line(in: $0) }
        XCTAssertEqual(line, 3)
        XCTAssertNotNil(syntaxError(#"{"a": 1,}"#))
        XCTAssertNotNil(syntaxError(#"{"a" 1}"#))
        XCTAssertNotNil(syntaxError(#""unterminated"#))
        XCTAssertNotNil(syntaxError("[1] [2]"))
        XCTAssertNotNil(syntaxError("tru"))
        XCTAssertNotNil(syntaxError("\"raw\ncontrol\""))
        XCTAssertNotNil(syntaxError("1.2.3"))
        XCTAssertNotNil(syntaxError(""))
    }

    func testDeepNestingIsRejectedNotACrash() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        XCTAssertTrue(syntaxError(deep)?.reason.contains("nesting") == true)
    }

    func testSkippingAndIntegersThroughTheCursor() throws {
        let bytes = Array(#"{"skip": {"x": [1, {"y": "\"}"}]}, "ids": [3, -4, "5", 6]}"#.utf8)
        var ids: [Int] = []
        try bytes.withUnsafeBufferPointer { buffer in
            var cursor = JSONCursor(buffer)
            try cursor.readObject { key, cursor in
                if key == "ids" { try cursor.readArray { ids.append(try $0.parseInt()) } } else { try cursor.skipValue() }
            }
            try cursor.expectEnd()
        }
        XCTAssertEqual(ids, [3, -4, 5, 6])
        let fractional = Array("[2.5]".utf8)
        XCTAssertThrowsError(try fractional.withUnsafeBufferPointer { buffer in
            var cursor = JSONCursor(buffer)
            try cursor.readArray { _ = try $0.parseInt() }
        })
    }
}

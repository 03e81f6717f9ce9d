import XCTest

@testable import JSONText

final class JSONParserTests: XCTestCase {
    private func parse(_ text: String, _ options: JSONCursor.Options = .init()) throws(JSONSyntaxError) -> JSONValue {
        try JSONValue.parse(Array(text.utf8), options: options)
    }

    private func parse(bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue { try JSONValue.parse(bytes) }

    private func syntaxError(_ text: String, _ options: JSONCursor.Options = .init()) -> JSONSyntaxError? {
        syntaxError(bytes: Array(text.utf8), options)
    }

    private func syntaxError(bytes: [UInt8], _ options: JSONCursor.Options = .init()) -> JSONSyntaxError? {
        do {
            _ = try JSONValue.parse(bytes, options: options)
            return nil
        } catch { return error }
    }

    /// Runs `body` on a cursor over `text` and requires that it consumed everything.
    private func walk(_ text: String, _ body: (inout JSONCursor) throws -> Void) throws {
        try Array(text.utf8).withUnsafeBufferPointer { buffer in
            var cursor = JSONCursor(buffer)
            try body(&cursor)
            try cursor.expectEnd()
        }
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
        XCTAssertEqual(value["b"]?["c"]?.string, "d")
        XCTAssertEqual(value["a"]?.kindName, "an array")
        XCTAssertNil(value["missing"])
    }

    func testNumbersKeepTheirTextSoMillisecondTimestampsStayExact() throws {
        XCTAssertEqual(try parse("1588687728923").int, 1_588_687_728_923)
        XCTAssertEqual(try parse("9007199254740993").int, 9_007_199_254_740_993)  // 2^53 + 1, not representable as Double
        XCTAssertEqual(try parse("881250949.0").int, 881_250_949)
        XCTAssertNil(try parse("1.5").int)
        XCTAssertEqual(try parse("-0"), .number("-0"))
        XCTAssertEqual(try parse("1E+2").double, 100)
    }

    func testNumbersFollowTheJSONGrammar() {
        for text in ["01", "+1", ".5", "1.", "1e", "1e+", "-", "--1", "0x10", "NaN", "Infinity", "-Infinity", "1.2.3"] {
            XCTAssertNotNil(syntaxError(text), text)
        }
    }

    func testStringEscapesAndSurrogatePairs() throws {
        XCTAssertEqual(try parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#).string, "a\"b\\c/d\n\té😀")
        XCTAssertEqual(try parse("\"Nail Polish – Teal\"").string, "Nail Polish – Teal")
        XCTAssertNotNil(syntaxError(#""\x""#))
        XCTAssertNotNil(syntaxError(#""\u12G4""#))
        XCTAssertNotNil(syntaxError(#""\u12"#))
    }

    func testLoneSurrogatesAreRefusedUnlessReplacementIsAsked() throws {
        let replacing = JSONCursor.Options(replacingLoneSurrogates: true)
        XCTAssertEqual(try parse(#""lone \ud800 surrogate""#, replacing).string, "lone \u{FFFD} surrogate")
        XCTAssertEqual(try parse(#""\udc00\ud800\u0041""#, replacing).string, "\u{FFFD}\u{FFFD}A")
        let error = try XCTUnwrap(syntaxError(#"{"\ud800": 1}"#))
        XCTAssertEqual(error.offset, 2)
        XCTAssertTrue(error.reason.contains("unpaired surrogate"), error.reason)
        XCTAssertThrowsError(try walk(#"["\udc00"]"#) { try $0.skipValue() })  // skipping checks it too
    }

    func testInvalidUTF8IsRefusedWithItsOffset() throws {
        let bytes = Array(#"{"ok": "a"#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
        let error = try XCTUnwrap(syntaxError(bytes: bytes))
        XCTAssertEqual(error.offset, 8)  // where the string starts
        XCTAssertTrue(error.reason.contains("not valid UTF-8"), error.reason)
        let escaped = Array(#"["\n"#.utf8) + [0xC3] + Array(#""]"#.utf8)  // truncated sequence after an escape
        XCTAssertNotNil(syntaxError(bytes: escaped))
        XCTAssertNotNil(syntaxError(bytes: [0xEF, 0xBB, 0xBF] + Array("{}".utf8)))  // no byte order mark either
        XCTAssertEqual(try parse(bytes: Array("\"é😀\"".utf8)).string, "é😀")
    }

    /// Special bytes at every position of strings long enough for the eight-byte scan, with every length around it.
    func testSpecialBytesAtEveryPositionOfLongStrings() throws {
        for length in 0..<40 {
            for position in 0..<length {
                var plain = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                for (special, text) in [(UInt8(ascii: "\""), "\\\""), (UInt8(ascii: "\\"), "\\\\"), (0x1F, "\\u001f")] {
                    plain[position] = special
                    let escaped = plain[..<position] + Array(text.utf8) + plain[(position + 1)...]
                    XCTAssertEqual(try parse(bytes: [0x22] + escaped + [0x22]).string, String(decoding: plain, as: UTF8.self))
                }
                plain[position] = 0x1F
                XCTAssertEqual(syntaxError(bytes: [0x22] + plain + [0x22])?.offset, 1 + position)
                plain[position] = 0xFF
                XCTAssertEqual(syntaxError(bytes: [0x22] + plain + [0x22])?.reason, "string is not valid UTF-8")
                plain[position] = 0xC3
                plain.insert(0xA9, at: position + 1)
                XCTAssertEqual(try parse(bytes: [0x22] + plain + [0x22]).string?.count, length)
            }
        }
    }

    func testQuotingRoundTrips() throws {
        for text in ["plain", "", "quote \" backslash \\ slash /", "tab\tnewline\n\u{1}\u{1F}", "é – 😀"] {
            XCTAssertEqual(try parse(jsonQuoted(text)).string, text)
        }
    }

    func testDuplicateKeysAreRefusedAtTheKey() throws {
        let error = try XCTUnwrap(syntaxError(#"{"a": 1, "b": {"a": 2}, "a": 3}"#))
        XCTAssertEqual(error.offset, 24)
        XCTAssertEqual(error.reason, "duplicate key 'a'")
        // Objects past the linear-scan size are checked through a set.
        let many = (0..<40).map { "\"k\($0)\": \($0)" }.joined(separator: ", ")
        XCTAssertEqual(try parse("{" + many + "}")["k39"]?.int, 39)
        XCTAssertEqual(syntaxError("{" + many + #", "k7": 0}"#)?.reason, "duplicate key 'k7'")
        XCTAssertEqual(syntaxError("{" + many + #", "k40": 0, "k40": 1}"#)?.reason, "duplicate key 'k40'")
    }

    func testSyntaxErrorsCarryTheirOffset() throws {
        let text = "{\n\"a\": [1, 2,\n ]\n}"
        let error = try XCTUnwrap(syntaxError(text))
        let line = Array(text.utf8).withUnsafeBufferPointer { error.line(in: $0) }
        XCTAssertEqual(line, 3)
        XCTAssertEqual(syntaxError(#"{"a":{}} x"#), JSONSyntaxError(offset: 9, reason: "unexpected content after the JSON value"))
        XCTAssertTrue(syntaxError(#"{"a":"#)?.reason.hasPrefix("unexpected end") == true)
        XCTAssertNotNil(syntaxError(#"{"a": 1,}"#))
        XCTAssertNotNil(syntaxError(#"{"a" 1}"#))
        XCTAssertNotNil(syntaxError(#"{1: 1}"#))
        XCTAssertNotNil(syntaxError(#""unterminated"#))
        XCTAssertNotNil(syntaxError("[1] [2]"))
        XCTAssertNotNil(syntaxError("tru"))
        XCTAssertEqual(syntaxError(#"{"a":tru}"#)?.reason, "invalid literal")
        XCTAssertEqual(syntaxError("\"raw\ncontrol\"")?.reason, "control character in string")
        XCTAssertNotNil(syntaxError(""))
    }

    func testDeepNestingIsRejectedNotACrash() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        XCTAssertEqual(syntaxError(deep)?.reason, "nesting deeper than 256 levels")
        let shallowLimit = JSONCursor.Options(maxDepth: 64)
        XCTAssertEqual(syntaxError(String(repeating: "[", count: 65), shallowLimit)?.reason, "nesting deeper than 64 levels")
        let sixtyFour = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        XCTAssertNil(syntaxError(sixtyFour, shallowLimit))
        XCTAssertThrowsError(try walk(deep) { try $0.skipValue() })
    }

    func testSkippingAndIntegersThroughTheCursor() throws {
        var ids: [Int] = []
        try walk(#"{"skip": {"x": [1, {"y": "\"}"}]}, "ids": [3, -4, "5", 6, 0]}"#) { cursor in
            try cursor.readObject { key, cursor in
                if key == "ids" { try cursor.readArray { ids.append(try $0.parseInt()) } } else { try cursor.skipValue() }
            }
        }
        XCTAssertEqual(ids, [3, -4, 5, 6, 0])
        XCTAssertThrowsError(try walk("[2.5]") { try $0.readArray { _ = try $0.parseInt() } })
        XCTAssertThrowsError(try walk("[01]") { try $0.readArray { _ = try $0.parseInt() } })
        XCTAssertThrowsError(try walk(#"["x"]"#) { try $0.readArray { _ = try $0.parseInt() } }) {
            XCTAssertEqual(($0 as? JSONSyntaxError)?.reason, #"expected an integer, got "x""#)
        }
        var big: [Int] = []
        try walk("[1234567890123456789, -9223372036854775808]") { try $0.readArray { big.append(try $0.parseInt()) } }
        XCTAssertEqual(big, [1_234_567_890_123_456_789, .min])  // past the 18-digit fast path
        XCTAssertThrowsError(try walk("[9223372036854775808]") { try $0.readArray { _ = try $0.parseInt() } })
    }

    func testSkippingChecksStrings() {
        XCTAssertThrowsError(try walk("[\"raw\ncontrol\"]") { try $0.skipValue() })
        XCTAssertThrowsError(try walk(#"["\q"]"#) { try $0.skipValue() })
        XCTAssertThrowsError(try walk(#"{"a": 1 "b": 2}"#) { try $0.skipValue() })
        XCTAssertNoThrow(try walk(#"{"a": ["\u00e9\"", {}, []], "b": -1.5e-3}"#) { try $0.skipValue() })
    }
}

import XCTest

@testable import JSONText

final class JSONWriterTests: XCTestCase {
    func testNumbersAreShortestRoundTripAndNonFiniteIsNull() throws {
        XCTAssertEqual(jsonNumber(0.1), "0.1")
        XCTAssertEqual(jsonNumber(1), "1.0")
        XCTAssertEqual(jsonNumber(-2.5e-300), "-2.5e-300")
        for value in [Double.nan, .infinity, -.infinity] { XCTAssertEqual(jsonNumber(value), "null") }
        for value in [0.1 + 0.2, .pi, 1e22, .leastNonzeroMagnitude, .greatestFiniteMagnitude] {
            XCTAssertEqual(try JSONValue.parse(Array(jsonNumber(value).utf8)).double, value)
        }
    }

    func testQuotingEscapesOnlyWhatJSONForbids() {
        XCTAssertEqual(jsonQuoted("é \"q\" \\ /"), #""é \"q\" \\ /""#)
        XCTAssertEqual(jsonQuoted("a\n\r\t\u{1}\u{1F}"), #""a\n\r\t\u0001\u001f""#)
    }

    func testObjectsKeepFieldOrderCompactOrPretty() throws {
        var json = JSONObjectWriter()
        XCTAssertEqual(json.finish(), "{}")
        json.add("s", "x\"y")
        json.add("i", 3)
        json.add("b", false)
        json.add("d", Double.nan)
        json.add("list", ["a", "b"])
        json.addRaw("raw", jsonArray(["1", "2"]))
        XCTAssertEqual(json.finish(), #"{"s": "x\"y", "i": 3, "b": false, "d": null, "list": ["a", "b"], "raw": [1, 2]}"#)
        XCTAssertEqual(json.finish(pretty: true), """
            {
              "s": "x\\"y",
              "i": 3,
              "b": false,
              "d": null,
              "list": ["a", "b"],
              "raw": [1, 2]
            }
            """)
        let parsed = try JSONValue.parse(Array(json.finish(pretty: true).utf8))
        XCTAssertEqual(parsed["s"]?.string, "x\"y")
        XCTAssertEqual(parsed["d"], .null)
    }
}

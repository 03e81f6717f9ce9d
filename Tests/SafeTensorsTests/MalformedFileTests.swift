// One test per rejection rule; each checks the message names the problem.
import Foundation
import XCTest
import SafeTensors

final class MalformedFileTests: XCTestCase {
    /// A header entry for tensor `name`.
    private func tensor(_ name: String, _ dtype: String = "F32", shape: String = "[1]", offsets: String) -> String {
        #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
    }

    func testFileShorterThanEightBytes() {
        assertRejected(Data(), "truncated", "8-byte")
        assertRejected(Data([2, 0, 0]), "truncated", "3 bytes")
    }

    func testHeaderLengthLargerThanFile() {
        assertRejected(makeFile(header: "{}", declaredLength: 100), "header length 100", "truncated")
    }

    func testHeaderLengthOverLimit() {
        assertRejected(makeFile(header: "{}", declaredLength: 100_000_001), "exceeds the 100000000-byte limit")
        assertRejected(makeFile(header: "{}", declaredLength: .max), "exceeds the 100000000-byte limit")
    }

    func testHeaderNotUTF8() {
        assertRejected(makeFile(headerBytes: Array(#"{"a"#.utf8) + [0xFF, 0xFE] + Array(#"":{}}"#.utf8)), "not valid UTF-8")
    }

    func testInvalidJSON() {
        assertRejected(makeFile(header: #"{"a":"#), "invalid JSON header", "unexpected end")
        assertRejected(makeFile(header: #"{"a":{}} x"#), "invalid JSON header at byte 9", "after the JSON value")
        assertRejected(makeFile(header: "{\"a\n\":{}}"), "invalid JSON header", "control character")
        assertRejected(makeFile(header: #"{"a":tru}"#), "invalid JSON header", "literal")
        assertRejected(makeFile(header: #"{"\ud800":{}}"#), "invalid JSON header", "surrogate")
        assertRejected(makeFile(header: String(repeating: "[", count: 10_000)), "nesting deeper than 64")
    }

    func testHeaderNotAnObject() {
        assertRejected(makeFile(header: "[1, 2]"), "header must be a JSON object", "an array")
        assertRejected(makeFile(header: #""text""#), "header must be a JSON object", "a string")
    }

    func testUnknownDType() {
        assertRejected(makeFile(header: "{" + tensor("w", "F8_E4M3", offsets: "[0,1]") + "}", buffer: [0]),
                       "tensor 'w'", "unknown dtype 'F8_E4M3'")
        assertRejected(makeFile(header: #"{"w":{"dtype":4,"shape":[],"data_offsets":[0,4]}}"#, buffer: [0, 0, 0, 0]),
                       "tensor 'w'", "'dtype' must be a string")
    }

    func testShapeWithNegativeOrNonIntegerDims() {
        assertRejected(makeFile(header: "{" + tensor("w", shape: "[-1,2]", offsets: "[0,0]") + "}"),
                       "tensor 'w'", "shape", "-1")
        assertRejected(makeFile(header: "{" + tensor("w", shape: "[1.0]", offsets: "[0,4]") + "}", buffer: [0, 0, 0, 0]),
                       "tensor 'w'", "shape", "1.0")
        assertRejected(makeFile(header: "{" + tensor("w", shape: "3", offsets: "[0,12]") + "}"),
                       "'shape' must be an array")
        assertRejected(makeFile(header: "{" + tensor("w", shape: "[4611686018427387904,4]", offsets: "[0,4]") + "}"),
                       "tensor 'w'", "too large")
    }

    func testDataOffsetsNotMatchingShape() {
        assertRejected(makeFile(header: "{" + tensor("w", shape: "[2, 2]", offsets: "[0,12]") + "}", buffer: .init(repeating: 0, count: 12)),
                       "tensor 'w': data_offsets [0, 12) do not match shape [2, 2] of F32 (16 bytes)")
    }

    func testDataOffsetsNotNonNegativeIntegerPair() {
        for offsets in ["[0,4.0]", "[-4,0]", "[0]", "[0,4,8]", "[\"0\",4]", "{}", "[0,1e2]", "[0,99999999999999999999]"] {
            assertRejected(makeFile(header: "{" + tensor("w", offsets: offsets) + "}", buffer: [0, 0, 0, 0]),
                           "tensor 'w'", "data_offsets must be two non-negative integers")
        }
        assertRejected(makeFile(header: "{" + tensor("w", offsets: "[8,4]") + "}", buffer: .init(repeating: 0, count: 8)),
                       "tensor 'w'", "data_offsets [8, 4) end before they begin")
    }

    func testOffsetsLeavingHoles() {
        let gap = "{" + tensor("a", offsets: "[0,4]") + "," + tensor("b", offsets: "[8,12]") + "}"
        assertRejected(makeFile(header: gap, buffer: .init(repeating: 0, count: 12)),
                       "tensor 'b'", "not contiguous", "hole of 4 bytes after tensor 'a'")
        let lateStart = "{" + tensor("a", offsets: "[4,8]") + "}"
        assertRejected(makeFile(header: lateStart, buffer: .init(repeating: 0, count: 8)), "tensor 'a'", "not contiguous")
    }

    func testOverlappingOffsets() {
        let overlap = "{" + tensor("a", shape: "[2]", offsets: "[0,8]") + "," + tensor("b", shape: "[2]", offsets: "[4,12]") + "}"
        assertRejected(makeFile(header: overlap, buffer: .init(repeating: 0, count: 12)), "tensor 'b'", "overlap tensor 'a'")
        let same = "{" + tensor("a", offsets: "[0,4]") + "," + tensor("b", offsets: "[0,4]") + "}"
        assertRejected(makeFile(header: same, buffer: .init(repeating: 0, count: 4)), "overlap")
    }

    func testTrailingBytesAfterLastTensor() {
        assertRejected(makeFile(header: "{" + tensor("a", offsets: "[0,4]") + "}", buffer: .init(repeating: 0, count: 6)),
                       "2 trailing bytes")
        assertRejected(makeFile(header: "{}", buffer: [1]), "1 trailing bytes")
    }

    func testTruncatedBuffer() {
        assertRejected(makeFile(header: "{" + tensor("a", shape: "[2]", offsets: "[0,8]") + "}", buffer: [0, 0, 0, 0]),
                       "truncated", "8-byte buffer", "only 4 bytes")
    }

    func testNonStringMetadata() {
        assertRejected(makeFile(header: #"{"__metadata__":{"epoch":3}}"#), "'__metadata__' value for key 'epoch' must be a string")
        assertRejected(makeFile(header: #"{"__metadata__":{"x":null}}"#), "'x'", "null")
        assertRejected(makeFile(header: #"{"__metadata__":["a"]}"#), "'__metadata__' must be an object")
    }

    func testDuplicateKeys() {
        let twice = "{" + tensor("a", offsets: "[0,4]") + "," + tensor("a", offsets: "[4,8]") + "}"
        assertRejected(makeFile(header: twice, buffer: .init(repeating: 0, count: 8)), "duplicate key 'a'")
        assertRejected(makeFile(header: #"{"a":{"dtype":"F32","dtype":"I32","shape":[],"data_offsets":[0,4]}}"#, buffer: [0, 0, 0, 0]),
                       "duplicate key 'dtype'")
    }

    func testMissingFieldsAndNonObjectEntries() {
        assertRejected(makeFile(header: #"{"a":{"dtype":"F32","data_offsets":[0,4]}}"#, buffer: [0, 0, 0, 0]),
                       "tensor 'a'", "missing field 'shape'")
        assertRejected(makeFile(header: #"{"a":[1]}"#), "tensor 'a'", "header entry must be an object")
    }

    /// Damaged copies of a valid file (every truncation, every byte flipped) must be rejected or
    /// parsed, never crash.
    func testDamagedFilesNeverCrash() {
        var value = SafeTensors()
        value.add("w", shape: [2, 2], floats: [1, 2, 3, 4])
        value.add("i", shape: [3], int64s: [1, 2, 3])
        value.metadata = ["k": "v"]
        let good = value.serialized()
        for length in 0..<good.count {
            XCTAssertThrowsError(try SafeTensors(data: good.prefix(length)), "prefix \(length)")
        }
        var rejected = 0
        for index in 0..<good.count {
            var bad = good
            bad[index] ^= 0xFF
            if (try? SafeTensors(data: bad)) == nil { rejected += 1 }
        }
        XCTAssertGreaterThan(rejected, 0)
    }
}

import Foundation
import XCTest
import SafeTensors

final class RoundTripTests: XCTestCase {
    func testEveryDTypeRoundTripsByteForByte() throws {
        var value = SafeTensors()
        for (i, dtype) in SafeTensorDType.allCases.enumerated() {
            let shape = [2, i % 3 + 1]
            let count = shape.reduce(1, *) * dtype.byteSize
            let bytes = Data((0..<count).map { UInt8(truncatingIfNeeded: $0 * 37 + i * 11 + 1) })
            value.add("t_\(dtype.rawValue)", entry: SafeTensorEntry(dtype: dtype, shape: shape, bytes: bytes))
        }
        value.metadata = ["k": "v", "empty": ""]
        let back = try SafeTensors(data: value.serialized())
        XCTAssertEqual(back, value)
        XCTAssertEqual(back.names.count, SafeTensorDType.allCases.count)
        XCTAssertEqual(back.serialized(), value.serialized(), "re-serialising must be byte-identical")
    }

    func testTypedAddAndReadBack() throws {
        var value = SafeTensors()
        let f: [Float] = [1.5, -0.0, .greatestFiniteMagnitude, .leastNonzeroMagnitude]
        value.add("f", shape: [2, 2], floats: f)
        value.add("l", shape: [3], int64s: [.min, 0, .max])
        value.add("i", shape: [1, 2], int32s: [.min, .max])
        value.add("scalar", shape: [], floats: [7])
        value.add("empty", shape: [3, 0, 2], int64s: [])
        let back = try SafeTensors(data: value.serialized())
        XCTAssertEqual(try back.floats("f").map(\.bitPattern), f.map(\.bitPattern))
        XCTAssertEqual(try back.ints("l"), [Int(Int64.min), 0, Int(Int64.max)])
        XCTAssertEqual(try back.ints("i"), [Int(Int32.min), Int(Int32.max)])
        XCTAssertEqual(try back.entry("f").dtype, .F32)
        XCTAssertEqual(try back.entry("l").dtype, .I64)
        XCTAssertEqual(try back.entry("i").dtype, .I32)
        XCTAssertEqual(try back.shape("scalar"), [])
        XCTAssertEqual(try back.floats("scalar"), [7])
        XCTAssertEqual(try back.shape("empty"), [3, 0, 2])
        XCTAssertEqual(try back.ints("empty"), [])
    }

    func testHalfPrecisionConversionsAgainstHandComputedBits() throws {
        var value = SafeTensors()
        // F16: 1.0, -2.5, 65504 (max), 2^-24 (smallest subnormal), -inf.
        value.add("h", entry: rawEntry(.F16, [5], [UInt16(0x3C00), 0xC100, 0x7BFF, 0x0001, 0xFC00]))
        // BF16: 1.0, -2.0, 0.15625, NaN.
        value.add("b", entry: rawEntry(.BF16, [4], [UInt16(0x3F80), 0xC000, 0x3E20, 0x7FC0]))
        // F64: 0.1 rounds to the nearest Float.
        value.add("d", entry: rawEntry(.F64, [2], [0.1, -3.0].map(\.bitPattern)))
        XCTAssertEqual(try value.floats("h"), [1, -2.5, 65504, 0x1p-24, -.infinity])
        let b = try value.floats("b")
        XCTAssertEqual(Array(b.prefix(3)), [1, -2, 0.15625])
        XCTAssertTrue(b[3].isNaN)
        XCTAssertEqual(try value.floats("d"), [Float(0.1), -3])
    }

    func testSmallIntegerAndBoolConversions() throws {
        var value = SafeTensors()
        value.add("i16", entry: rawEntry(.I16, [2], [Int16(-300), 300]))
        value.add("i8", entry: rawEntry(.I8, [2], [Int8(-5), 5]))
        value.add("u8", entry: rawEntry(.U8, [2], [UInt8(200), 7]))
        value.add("u16", entry: rawEntry(.U16, [2], [UInt16(60000), 1]))
        value.add("u32", entry: rawEntry(.U32, [1], [UInt32(4_000_000_000)]))
        value.add("bool", entry: rawEntry(.BOOL, [3], [UInt8(0), 1, 2]))
        XCTAssertEqual(try value.ints("i16"), [-300, 300])
        XCTAssertEqual(try value.ints("i8"), [-5, 5])
        XCTAssertEqual(try value.ints("u8"), [200, 7])
        XCTAssertEqual(try value.ints("u16"), [60000, 1])
        XCTAssertEqual(try value.ints("u32"), [4_000_000_000])
        XCTAssertEqual(try value.ints("bool"), [0, 1, 1])
    }

    func testExactHeaderLayout() {
        var value = SafeTensors()
        value.add("b", shape: [1], floats: [1])
        value.add("a", shape: [], int32s: [2])
        value.metadata = ["z": "q\"\n"]
        let header = #"{"__metadata__":{"z":"q\"\n"},"a":{"data_offsets":[0,4],"dtype":"I32","shape":[]},"#
            + #""b":{"data_offsets":[4,8],"dtype":"F32","shape":[1]}}"#
        let padded = header + String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        var expected = Data()
        withUnsafeBytes(of: UInt64(padded.utf8.count).littleEndian) { expected.append(contentsOf: $0) }
        expected.append(contentsOf: padded.utf8)
        expected.append(contentsOf: [2, 0, 0, 0, 0x00, 0x00, 0x80, 0x3F])
        XCTAssertEqual(padded.utf8.count % 8, 0)
        XCTAssertEqual(value.serialized(), expected)
    }

    func testEmptyFileAndSlicedInput() throws {
        let empty = SafeTensors().serialized()
        XCTAssertEqual(empty, Data([8, 0, 0, 0, 0, 0, 0, 0]) + Data("{}      ".utf8))
        XCTAssertEqual(try SafeTensors(data: empty), SafeTensors())

        var value = SafeTensors()
        value.add("x", shape: [2], floats: [3, 4])
        // A Data slice keeps its parent's indices; the parser must not assume they start at 0.
        let wrapped = Data([0xAA, 0xBB, 0xCC]) + value.serialized()
        XCTAssertEqual(try SafeTensors(data: wrapped.dropFirst(3)).floats("x"), [3, 4])
    }

    func testUnknownNameAndWrongDTypeErrors() {
        var value = SafeTensors()
        value.add("alpha", shape: [1], floats: [1])
        value.add("beta", shape: [1], int64s: [1])
        assertThrowsMessage(try value.floats("gamma"), "no tensor named 'gamma'", "'alpha', 'beta'")
        assertThrowsMessage(try value.shape("gamma"), "gamma", "available")
        assertThrowsMessage(try value.ints("alpha"), "'alpha'", "F32")
        assertThrowsMessage(try value.floats("beta"), "'beta'", "I64")
    }

    func testAddReplacesAndRemoveDeletes() throws {
        var value = SafeTensors()
        value.add("x", shape: [1], floats: [1])
        value.add("x", shape: [2], int32s: [5, 6])
        XCTAssertEqual(try value.ints("x"), [5, 6])
        value.remove("x")
        XCTAssertEqual(value.names, [])
    }

    /// The half reader's bit-by-bit conversion equals Swift's for every one of the 65,536 patterns (NaNs by payload).
    func testHalfReaderMatchesSwiftOnEveryPattern() {
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits)), ours = floatFromHalfBits(bits)
            if expected.isNaN { XCTAssertTrue(ours.isNaN && ours.bitPattern == expected.bitPattern, "\(bits)") }
            else { XCTAssertEqual(ours.bitPattern, expected.bitPattern, "half bits \(bits)") }
        }
    }
}

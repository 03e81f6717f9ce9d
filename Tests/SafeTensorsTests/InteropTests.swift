// Both directions against Python's `safetensors` package; fixtures come from
// scripts/make_safetensors_fixtures.py, which also verifies swift_written.safetensors with Python.
import Foundation
import XCTest
import SafeTensors

final class InteropTests: XCTestCase {
    private struct Expected: Decodable {
        struct Tensor: Decodable {
            let dtype: String
            let shape: [Int]
            let hex: String
            let float32_bits: [UInt32]?
            let ints: [Int]?
        }
        let metadata: [String: String]
        let tensors: [String: Tensor]
    }

    func testReadsFileWrittenByPython() throws {
        let file = try SafeTensors.read(contentsOf: fixtureURL("python_written.safetensors"))
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixtureURL("python_written.json")))

        XCTAssertEqual(file.metadata, expected.metadata)
        XCTAssertEqual(file.names, expected.tensors.keys.sorted())
        XCTAssertEqual(expected.tensors.count, 18, "sidecar lost tensors")
        for (name, want) in expected.tensors {
            let entry = try file.entry(name)
            XCTAssertEqual(entry.dtype.rawValue, want.dtype, name)
            XCTAssertEqual(entry.shape, want.shape, name)
            XCTAssertEqual(hex(entry.bytes), want.hex, name)
            if let bits = want.float32_bits {
                XCTAssertEqual(try file.floats(name).map(\.bitPattern), bits, name)
            }
            if let ints = want.ints {
                XCTAssertEqual(try file.ints(name), ints, name)
            }
        }
        // Every dtype we read appears, including a scalar and empty tensors.
        XCTAssertEqual(Set(expected.tensors.values.map(\.dtype)), Set(SafeTensorDType.allCases.map(\.rawValue)))
        XCTAssertEqual(try file.shape("scalar_f32"), [])
        XCTAssertEqual(try file.floats("scalar_f32"), [42.5])
        XCTAssertEqual(try file.shape("empty_f32"), [0, 3])
        XCTAssertEqual(try file.floats("empty_f32"), [])
        assertThrowsMessage(try file.ints("u64_too_big"), "u64_too_big", "does not fit in Int")
    }

    /// The fixed value whose serialisation is committed as swift_written.safetensors.
    /// Mirrored by `swift_written_expected` in scripts/make_safetensors_fixtures.py.
    static var swiftWrittenValue: SafeTensors {
        var st = SafeTensors()
        st.metadata = ["producer": "mscgrec", "text": "\u{FC}n\u{EF}code \"quoted\" back\\slash\nnewline\ttab"]
        st.add("weight", shape: [2, 3], floats: [1, -2.5, 0.375, 0x1p-140, .infinity, -0.0])
        st.add("bias", shape: [3], floats: [0.5, -0.25, 1024])
        st.add("scalar", shape: [], floats: [3.5])
        st.add("empty", shape: [0, 4], floats: [])
        st.add("ids", shape: [4], int64s: [0, -1, .max, .min])
        st.add("positions", shape: [2, 2], int32s: [1, -2, .max, .min])
        st.add("half", entry: rawEntry(.F16, [3], [Float16(1), -0.5, 65504].map(\.bitPattern)))
        st.add("brain", entry: rawEntry(.BF16, [3], [Float(1), -2, 0.15625].map { UInt16($0.bitPattern >> 16) }))
        st.add("double", entry: rawEntry(.F64, [2], [0.5, -1e300].map(\.bitPattern)))
        st.add("i16", entry: rawEntry(.I16, [2], [Int16.min, .max]))
        st.add("i8", entry: rawEntry(.I8, [2], [Int8.min, .max]))
        st.add("u8", entry: rawEntry(.U8, [4], [UInt8(0), 1, 128, 255]))
        st.add("u16", entry: rawEntry(.U16, [2], [UInt16(0), .max]))
        st.add("u32", entry: rawEntry(.U32, [2], [UInt32(0), .max]))
        st.add("u64", entry: rawEntry(.U64, [2], [UInt64(0), .max]))
        st.add("mask", entry: rawEntry(.BOOL, [3], [UInt8(1), 0, 1]))
        return st
    }

    func testSerializationMatchesCommittedFileVerifiedByPython() throws {
        let value = Self.swiftWrittenValue
        XCTAssertEqual(Set(value.entries.values.map(\.dtype)), Set(SafeTensorDType.allCases), "must cover every dtype")
        if ProcessInfo.processInfo.environment["SAFETENSORS_WRITE_FIXTURES"] == "1" {
            // Writes the source-tree copy (the bundle copy updates on the next build); see the script header.
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Fixtures/swift_written.safetensors")
            try value.write(to: url)
            print("wrote \(url.path); now run python3 scripts/make_safetensors_fixtures.py")
            return
        }
        let committed = try Data(contentsOf: fixtureURL("swift_written.safetensors"))
        XCTAssertEqual(value.serialized(), committed, "serialized() drifted from the Python-verified fixture")
        XCTAssertEqual(try SafeTensors(data: committed), value)
    }

    private func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }
}

import Foundation
import XCTest
import SafeTensors

/// A committed fixture, as copied into the test bundle.
func fixtureURL(_ name: String) -> URL {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(name)
}

/// An entry built from integer bit patterns, stored little-endian.
func rawEntry<T: FixedWidthInteger>(_ dtype: SafeTensorDType, _ shape: [Int], _ values: [T]) -> SafeTensorEntry {
    SafeTensorEntry(dtype: dtype, shape: shape, bytes: values.map(\.littleEndian).withUnsafeBytes { Data($0) })
}

/// A file with the given header text (unpadded) and buffer; `declaredLength` overrides the length prefix.
func makeFile(header: String, buffer: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
    makeFile(headerBytes: Array(header.utf8), buffer: buffer, declaredLength: declaredLength)
}

func makeFile(headerBytes: [UInt8], buffer: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
    var data = Data()
    withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { data.append(contentsOf: $0) }
    data.append(contentsOf: headerBytes)
    data.append(contentsOf: buffer)
    return data
}

/// Asserts that parsing fails with a SafeTensorsError naming the source and containing every fragment.
func assertRejected(_ data: Data, _ fragments: String..., file: StaticString = #filePath, line: UInt = #line) {
    do {
        let parsed = try SafeTensors(data: data, source: "bad.safetensors")
        XCTFail("accepted a malformed file: \(parsed.names)", file: file, line: line)
    } catch let error as SafeTensorsError {
        XCTAssertTrue(error.message.hasPrefix("bad.safetensors: "), "no file name in: \(error.message)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(error.message.contains(fragment), "'\(fragment)' missing from: \(error.message)", file: file, line: line)
        }
    } catch {
        XCTFail("untyped error \(error)", file: file, line: line)
    }
}

/// Asserts that `body` throws a SafeTensorsError whose message contains every fragment.
func assertThrowsMessage<T>(_ body: @autoclosure () throws -> T, _ fragments: String...,
                            file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected an error", file: file, line: line)
    } catch let error as SafeTensorsError {
        for fragment in fragments {
            XCTAssertTrue(error.message.contains(fragment), "'\(fragment)' missing from: \(error.message)", file: file, line: line)
        }
    } catch {
        XCTFail("untyped error \(error)", file: file, line: line)
    }
}

import Foundation
import XCTest

/// A fresh empty directory under the system temporary directory, removed when the test ends.
public func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("mscgrec-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

public func assertThrowsError(_ expression: @autoclosure () throws -> some Any, containing text: String,
                            file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try expression()
        XCTFail("expected an error containing \"\(text)\"", file: file, line: line)
    } catch {
        XCTAssertTrue("\(error)".contains(text), "error \"\(error)\" does not contain \"\(text)\"", file: file, line: line)
    }
}

import XCTest
final class PlaceholderTensorEngineTests: XCTestCase { func testNothing() {} }

import XCTest
final class PlaceholderSafeTensorsTests: XCTestCase { func testNothing() {} }

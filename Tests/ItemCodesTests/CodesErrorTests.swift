@testable import ItemCodes
import XCTest

final class CodesErrorTests: XCTestCase {
    func testCollisionOverflowMessageGivesTheHint() {
        let error = CodesError.collisionOverflow(modality: "text", groupSize: 300, capacity: 256, example: [1, 2, 3])
        XCTAssertEqual(
            error.description,
            "modality \"text\": 300 items share the codes [1, 2, 3], but the collision level holds only 256; raise --codebook or --levels (or --collision-capacity)")
    }
}

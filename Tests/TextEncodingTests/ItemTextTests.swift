import XCTest
@testable import TextEncoding

final class ItemTextTests: XCTestCase {
    let item = ["title": "Red Lipstick", "brand": "", "categories": "Beauty,Makeup", "description": "  "]

    func testFieldsJoinTheNonEmptyOnesWithASpace() throws {
        let t = try ItemTextTemplate(fields: ["title", "brand", "categories", "description"])
        XCTAssertEqual(t.text { self.item[$0]! }, "Red Lipstick Beauty,Makeup")
        XCTAssertEqual(try ItemTextTemplate(fields: ["title"]).text { self.item[$0]! }, "Red Lipstick")
    }

    func testItemWithoutTextIsMissingNotEmpty() throws {
        let t = try ItemTextTemplate(fields: ["brand", "description"])
        XCTAssertNil(t.text { self.item[$0]! })
        XCTAssertNil(try ItemTextTemplate(template: "Brand: {brand}.").text { self.item[$0]! })
    }

    func testTemplateSubstitutesFieldsAndEscapesBraces() throws {
        let t = try ItemTextTemplate(template: "{title} ({{{categories}}}) by {brand}")
        XCTAssertEqual(t.fields, ["title", "categories", "brand"])
        XCTAssertEqual(t.text { self.item[$0]! }, "Red Lipstick ({Beauty,Makeup}) by ")
    }

    func testBadTemplatesAreRejected() {
        XCTAssertThrowsError(try ItemTextTemplate(template: "{title"))
        XCTAssertThrowsError(try ItemTextTemplate(template: "{colour}")) { XCTAssertEqual($0 as? ItemTextError, .unknownField("colour")) }
        XCTAssertThrowsError(try ItemTextTemplate(template: "no fields")) { XCTAssertEqual($0 as? ItemTextError, .noFields) }
        XCTAssertThrowsError(try ItemTextTemplate(fields: ["title", "price"]))
    }
}

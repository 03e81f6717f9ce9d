import Foundation
import Images
import TestSupport
import XCTest

final class DecodingTests: XCTestCase {
    let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")

    func expected(_ name: String) throws -> RGBImage {
        let sizes = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("expected.json"))) as! [String: [String: Int]]
        let bytes = try Data(contentsOf: fixtures.appendingPathComponent("expected/\(name).rgb"))
        return RGBImage(width: sizes[name]!["width"]!, height: sizes[name]!["height"]!, pixels: [UInt8](bytes))
    }

    func decode(_ name: String) throws -> RGBImage { try ImageDecoder.decode(contentsOf: fixtures.appendingPathComponent(name)) }

    /// Pillow decodes with its own libjpeg build: allow IDCT rounding, but the image must be the same.
    func testJPEGsMatchPillow() throws {
        for name in ["photo.jpg", "photo-progressive.jpg", "gray.jpg", "uniform.jpg"] {
            let ours = try decode(name), theirs = try expected(name)
            XCTAssertEqual(ours.width, theirs.width, name)
            XCTAssertEqual(ours.height, theirs.height, name)
            let worst = zip(ours.pixels, theirs.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 2, "\(name): largest channel difference \(worst)")
        }
        XCTAssertEqual(try decode("photo.jpg").width, 24)
        XCTAssertEqual(try decode("photo.jpg").height, 16)
    }

    func testPNGsAreExact() throws {
        for name in ["photo.png", "gray16.png", "palette.png", "tiny.png"] {
            let ours = try decode(name), theirs = try expected(name)
            XCTAssertEqual([ours.width, ours.height], [theirs.width, theirs.height], name)
            let first = zip(ours.pixels, theirs.pixels).enumerated().first { $0.element.0 != $0.element.1 }
            XCTAssertNil(first, "\(name): first differing byte \(first.map { "\($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "")")
        }
    }

    func testAlphaIsCompositedOnWhite() throws {
        let image = try decode("alpha.png"), opaque = try expected("photo.png")
        XCTAssertEqual(Array(image.pixels[0..<3]), [255, 255, 255], "alpha 0 must give the white background")
        // alpha 230 at the right edge: between the photo and white (libpng blends in linear light, so not 90/10 in bytes)
        let last = (image.width - 1) * 3, middle = 12 * 3
        for c in 0..<3 {
            XCTAssertGreaterThanOrEqual(image.pixels[last + c], opaque.pixels[last + c])
            XCTAssertLessThan(Int(image.pixels[last + c]) - Int(opaque.pixels[last + c]), Int(image.pixels[middle + c]) - Int(opaque.pixels[middle + c]) + 1)
        }
        XCTAssertLessThan(image.pixels[last + 1], 255, "the photo must still show through at alpha 230")
    }

    func testCorruptFilesGiveErrorsNamingTheFile() {
        let cases: [(String, String)] = [
            ("truncated.jpg", "corrupt JPEG data"), ("garbage.jpg", "corrupt JPEG data"),
            ("truncated.png", "corrupt PNG data"), ("badcrc.png", "corrupt PNG data"),
            ("empty.png", "the image file is empty"), ("text.jpg", "not a JPEG or PNG file"),
            ("nowhere.jpg", "cannot read the image file"),
        ]
        for (name, message) in cases {
            assertThrowsError(try decode(name), containing: message)
            assertThrowsError(try decode(name), containing: name)
        }
    }

    func testPlaceholdersAreDetected() throws {
        XCTAssertEqual(ImageQuality.assess(try decode("photo.jpg")), .usable)
        guard case .uniform = ImageQuality.assess(try decode("uniform.jpg")) else { return XCTFail("uniform.jpg not detected") }
        XCTAssertEqual(ImageQuality.assess(try decode("tiny.png")), .tooSmall(width: 8, height: 8))
        XCTAssertEqual(ImageQuality.assess(try decode("tiny.png"), thresholds: .init(minSide: 8)), .usable)
    }

    func testCSVSourceMarksMissingItemsAndKeepsTheRest() throws {
        let (entries, root) = try ImageSource.list(fixtures.appendingPathComponent("items.csv").path)
        XCTAssertEqual(entries.map(\.id), ["1", "2", "3", "4", "5", "6"])
        XCTAssertEqual(entries[0].fields["title"], "Red, bright \"photo\"")
        let loaded = ImageLoader.load(entries, resolver: ImageResolver(root: root), dropPlaceholders: true, threads: 2)
        XCTAssertEqual(loaded.images.map { $0 != nil }, [true, true, false, false, false, true])
        XCTAssertEqual(loaded.problems.map(\.index), [2, 3, 4])
        XCTAssertTrue(loaded.problems[0].message.contains("nowhere.jpg"))
        XCTAssertTrue(loaded.problems[1].message.contains("truncated.jpg"))
        XCTAssertTrue(loaded.problems[2].message.contains("placeholder"))
        let kept = ImageLoader.load(entries, resolver: ImageResolver(root: root), dropPlaceholders: false)
        XCTAssertEqual(kept.usableCount, 4)
    }

    func testFolderSourceAndReferences() throws {
        let (entries, _) = try ImageSource.list(fixtures.path)
        XCTAssertTrue(entries.contains { $0.id == "photo" && $0.reference == "photo.jpg" })
        XCTAssertFalse(entries.contains { $0.reference.hasSuffix(".csv") })
        let resolver = ImageResolver(root: URL(fileURLWithPath: "/data"), downloads: URL(fileURLWithPath: "/dl"))
        XCTAssertEqual(try resolver.url(for: "images/1.jpg").path, "/data/images/1.jpg")
        XCTAssertEqual(try resolver.url(for: "/abs/2.png").path, "/abs/2.png")
        XCTAssertEqual(try resolver.url(for: "https://example.com/img/3.jpg?x").path, "/dl/3.jpg")
        assertThrowsError(try ImageResolver(root: nil).url(for: "https://example.com/a.jpg"), containing: "--image-dir")
    }
}

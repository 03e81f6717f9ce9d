import Foundation
import Images
import TensorEngine
import XCTest

final class AugmentationTests: XCTestCase {
    func gradient(_ w: Int, _ h: Int) -> RGBImage {
        var pixels: [UInt8] = []
        for y in 0..<h { for x in 0..<w { pixels += [UInt8(x * 255 / (w - 1)), UInt8(y * 255 / (h - 1)), 128] } }
        return RGBImage(width: w, height: h, pixels: pixels)
    }

    /// Bilinear crop against a direct evaluation of the interpolation formula at a few points.
    func testCropResizeAndFlip() {
        let image = gradient(9, 5)
        let same = Resampling.crop(image, .whole(image), width: 9, height: 5)
        XCTAssertEqual(same, image.planar(), "resizing to the same size is the identity")
        let flipped = Resampling.crop(image, .whole(image), width: 9, height: 5, flip: true)
        for x in 0..<9 { XCTAssertEqual(flipped[0, 2, x], same[0, 2, 8 - x]) }
        let half = Resampling.crop(image, CropBox(x: 1, y: 0, width: 4, height: 5), width: 2, height: 5)
        // output column 0 samples source x = 1 + 0.5·2 − 0.5 = 1.5: halfway between columns 1 and 2
        XCTAssertEqual(half[0, 0, 0], (same[0, 0, 1] + same[0, 0, 2]) / 2, accuracy: 1e-6)
        XCTAssertEqual(half[1, 3, 1], same[1, 3, 3], accuracy: 1e-6)
    }

    func testMultiCropShapesRangesAndSeeding() {
        let augmentation = MultiCropAugmentation(globalSize: 16, localSize: 8, localCrops: 4)
        let image = gradient(30, 40)
        var a = SeededGenerator(seed: 3), b = SeededGenerator(seed: 3), c = SeededGenerator(seed: 4)
        let first = augmentation.crops(of: image, using: &a), again = augmentation.crops(of: image, using: &b)
        XCTAssertEqual(first.global, again.global)
        XCTAssertEqual(first.local, again.local)
        XCTAssertNotEqual(first.global, augmentation.crops(of: image, using: &c).global)
        XCTAssertEqual(first.global.map(\.count), [3 * 16 * 16, 3 * 16 * 16])
        XCTAssertEqual(first.local.map(\.count), Array(repeating: 3 * 8 * 8, count: 4))
        // normalised values of [0, 1] pixels stay within ImageNet's bounds
        for crop in first.global + first.local { XCTAssertTrue(crop.allSatisfy { $0 >= -2.2 && $0 <= 2.7 }) }
    }

    func testColourOperations() {
        var image = gradient(6, 6).planar()
        MultiCropAugmentation.grayscale(&image)
        let n = 36
        for i in 0..<n { XCTAssertEqual(image.data[i], image.data[n + i]); XCTAssertEqual(image.data[i], image.data[2 * n + i]) }
        var bright = PlanarImage(width: 1, height: 1, data: [0.2, 0.6, 0.9])
        MultiCropAugmentation.solarize(&bright)
        for (got, want) in zip(bright.data, [0.2, 0.4, 0.1] as [Float]) { XCTAssertEqual(got, want, accuracy: 1e-6) }
        // a blur keeps a constant image and the mean of any image (reflect padding loses nothing)
        var flat = PlanarImage(width: 8, height: 8, data: [Float](repeating: 0.3, count: 192))
        MultiCropAugmentation.blur(&flat, sigma: 1.2)
        XCTAssertTrue(flat.data.allSatisfy { abs($0 - 0.3) < 1e-6 })
        var spot = PlanarImage(width: 9, height: 9, data: [Float](repeating: 0, count: 243))
        spot[0, 4, 4] = 1
        MultiCropAugmentation.blur(&spot, sigma: 1)
        XCTAssertEqual(spot.data[0..<81].reduce(0, +), 1, accuracy: 1e-5)
        XCTAssertLessThan(spot[0, 4, 4], 0.2)
        XCTAssertEqual(spot[0, 4, 3], spot[0, 4, 5], accuracy: 1e-7)
    }
}

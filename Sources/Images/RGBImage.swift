import Foundation

/// An 8-bit RGB image, interleaved row-major (what the decoders produce and what is kept in memory for training:
/// 10,000 fashion photos at 60×80 are 144 MB this way, four times less than as floats).
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// width · height · 3 bytes, R G B per pixel.
    public let pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3,
                     "RGB image \(width)x\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A uniform image (tests, placeholders).
    public static func filled(width: Int, height: Int, red: UInt8, green: UInt8, blue: UInt8) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { pixels[3 * i] = red; pixels[3 * i + 1] = green; pixels[3 * i + 2] = blue }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Channel-planar floats in [0, 1] (C, H, W), the layout crops and the ViT work in.
    public func planar() -> PlanarImage {
        let n = width * height
        var data = [Float](repeating: 0, count: 3 * n)
        for i in 0..<n { for c in 0..<3 { data[c * n + i] = Float(pixels[3 * i + c]) / 255 } }
        return PlanarImage(width: width, height: height, data: data)
    }
}

/// A 3-channel float image in planar (C, H, W) layout, values nominally in [0, 1] before normalisation.
public struct PlanarImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var data: [Float]

    public init(width: Int, height: Int, data: [Float]) {
        precondition(data.count == 3 * width * height, "planar image \(width)x\(height) needs \(3 * width * height) floats, got \(data.count)")
        self.width = width
        self.height = height
        self.data = data
    }

    public subscript(channel: Int, y: Int, x: Int) -> Float {
        get { data[(channel * height + y) * width + x] }
        set { data[(channel * height + y) * width + x] = newValue }
    }

    /// ImageNet normalisation ((x − mean) / std per channel), as DINOv2 and its checkpoints expect.
    public func normalized(mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]) -> [Float] {
        let n = width * height
        var out = data
        for c in 0..<3 { for i in 0..<n { out[c * n + i] = (out[c * n + i] - mean[c]) / std[c] } }
        return out
    }
}

import Foundation

/// A crop box in source pixel coordinates (x, y of the top-left corner, width, height; fractional allowed).
public struct CropBox: Sendable, Equatable {
    public var x: Double, y: Double, width: Double, height: Double
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    public static func whole(_ image: RGBImage) -> CropBox { CropBox(x: 0, y: 0, width: Double(image.width), height: Double(image.height)) }
}

public enum Resampling {
    /// The box resized to outWidth × outHeight with bilinear sampling (pixel centres, align_corners = false, edges
    /// clamped), optionally mirrored left-right: crop, resize and flip in one pass over the output.
    public static func crop(_ image: RGBImage, _ box: CropBox, width outWidth: Int, height outHeight: Int, flip: Bool = false) -> PlanarImage {
        let (w, h) = (image.width, image.height), n = outWidth * outHeight
        var out = [Float](repeating: 0, count: 3 * n)
        let sx = box.width / Double(outWidth), sy = box.height / Double(outHeight)
        // Per output column: the two source columns and the weight of the right one (the same for every row).
        var x0 = [Int](repeating: 0, count: outWidth), x1 = x0, fx = [Float](repeating: 0, count: outWidth)
        for i in 0..<outWidth {
            let column = flip ? outWidth - 1 - i : i
            let source = min(max(box.x + (Double(column) + 0.5) * sx - 0.5, 0), Double(w - 1))
            x0[i] = Int(source); x1[i] = min(x0[i] + 1, w - 1); fx[i] = Float(source - Double(x0[i]))
        }
        image.pixels.withUnsafeBufferPointer { p in
            for j in 0..<outHeight {
                let source = min(max(box.y + (Double(j) + 0.5) * sy - 0.5, 0), Double(h - 1))
                let y0 = Int(source), y1 = min(y0 + 1, h - 1), fy = Float(source - Double(y0))
                for i in 0..<outWidth {
                    for c in 0..<3 {
                        let a = Float(p[(y0 * w + x0[i]) * 3 + c]), b = Float(p[(y0 * w + x1[i]) * 3 + c])
                        let d = Float(p[(y1 * w + x0[i]) * 3 + c]), e = Float(p[(y1 * w + x1[i]) * 3 + c])
                        let top = a + (b - a) * fx[i], bottom = d + (e - d) * fx[i]
                        out[c * n + j * outWidth + i] = (top + (bottom - top) * fy) / 255
                    }
                }
            }
        }
        return PlanarImage(width: outWidth, height: outHeight, data: out)
    }

    /// The whole image squashed to size × size: what encoding for codes uses (random crops keep aspect ratios
    /// between 3/4 and 4/3 and are squashed to squares as well).
    public static func square(_ image: RGBImage, size: Int) -> PlanarImage {
        crop(image, .whole(image), width: size, height: size)
    }
}

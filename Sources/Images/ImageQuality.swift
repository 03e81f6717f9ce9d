/// Placeholder detection (paper 4.1: items with empty or placeholder images are dropped): a tiny image or one of a
/// single colour carries no product.
public enum ImageQuality: Sendable, Equatable {
    case usable
    case tooSmall(width: Int, height: Int)
    case uniform(standardDeviation: Double)

    public struct Thresholds: Sendable, Equatable {
        /// Images whose shorter side is below this are placeholders (thumbnails of "no image" icons and the like).
        public var minSide: Int
        /// Largest per-channel standard deviation (0–255 scale) below which the image is one colour; 2.0 also catches
        /// JPEG noise on a flat colour.
        public var minStandardDeviation: Double
        public init(minSide: Int = 16, minStandardDeviation: Double = 2.0) {
            self.minSide = minSide; self.minStandardDeviation = minStandardDeviation
        }
    }

    public static func assess(_ image: RGBImage, thresholds: Thresholds = Thresholds()) -> ImageQuality {
        if min(image.width, image.height) < thresholds.minSide { return .tooSmall(width: image.width, height: image.height) }
        var sum = [Double](repeating: 0, count: 3), squares = sum
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<(image.width * image.height) {
                for c in 0..<3 { let v = Double(p[3 * i + c]); sum[c] += v; squares[c] += v * v }
            }
        }
        let n = Double(image.width * image.height)
        let deviation = (0..<3).map { c in max(0, squares[c] / n - (sum[c] / n) * (sum[c] / n)).squareRoot() }.max() ?? 0
        return deviation < thresholds.minStandardDeviation ? .uniform(standardDeviation: deviation) : .usable
    }

    public var isUsable: Bool { self == .usable }

    public var reason: String {
        switch self {
        case .usable: return "usable"
        case .tooSmall(let w, let h): return "placeholder: \(w)x\(h) is below the minimum side"
        case .uniform(let s): return "placeholder: a single colour (largest channel standard deviation \(s))"
        }
    }
}

import Foundation
import TensorEngine

/// DINOv2's multi-crop augmentation (its `DataAugmentationDINO`), seeded: two global and `localCrops` local
/// random-resized crops, horizontal flip, colour jitter, grayscale, Gaussian blur and solarisation, then ImageNet
/// normalisation. The probabilities are DINOv2's; blur sigmas are scaled from its 224-pixel crops to ours.
public struct MultiCropAugmentation: Sendable, Equatable {
    public var globalSize: Int
    public var localSize: Int
    public var localCrops: Int
    public var globalScale: ClosedRange<Double> = 0.32...1.0
    public var localScale: ClosedRange<Double> = 0.05...0.32

    public init(globalSize: Int, localSize: Int, localCrops: Int = 4) {
        self.globalSize = globalSize; self.localSize = localSize; self.localCrops = localCrops
    }

    /// The crops of one image: globals first, then locals, each normalised planar (C, H, W) floats.
    public func crops(of image: RGBImage, using rng: inout SeededGenerator) -> (global: [[Float]], local: [[Float]]) {
        var global: [[Float]] = []
        for index in 0..<2 {
            var crop = Self.randomResizedCrop(image, size: globalSize, scale: globalScale, using: &rng)
            Self.colorJitter(&crop, using: &rng)
            // DINOv2: the first global crop is always blurred, the second rarely but may be solarised.
            Self.gaussianBlur(&crop, probability: index == 0 ? 1.0 : 0.1, using: &rng)
            if index == 1 && rng.uniform() < 0.2 { Self.solarize(&crop) }
            global.append(crop.normalized())
        }
        var local: [[Float]] = []
        for _ in 0..<localCrops {
            var crop = Self.randomResizedCrop(image, size: localSize, scale: localScale, using: &rng)
            Self.colorJitter(&crop, using: &rng)
            Self.gaussianBlur(&crop, probability: 0.5, using: &rng)
            local.append(crop.normalized())
        }
        return (global, local)
    }

    /// torchvision's RandomResizedCrop box choice (area share in `scale`, log-uniform aspect ratio in [3/4, 4/3],
    /// ten tries, then the centred largest box), resized to size × size and flipped with probability ½.
    public static func randomResizedCrop(_ image: RGBImage, size: Int, scale: ClosedRange<Double>, using rng: inout SeededGenerator) -> PlanarImage {
        let (w, h) = (Double(image.width), Double(image.height))
        var box: CropBox?
        for _ in 0..<10 {
            let area = w * h * Double(rng.uniform(Float(scale.lowerBound), Float(scale.upperBound)))
            let ratio = Foundation.exp(Double(rng.uniform(Float(Foundation.log(3.0 / 4)), Float(Foundation.log(4.0 / 3)))))
            let cw = (area * ratio).squareRoot().rounded(), ch = (area / ratio).squareRoot().rounded()
            if cw > 0 && ch > 0 && cw <= w && ch <= h {
                box = CropBox(x: Double(rng.index(Int(w - cw) + 1)), y: Double(rng.index(Int(h - ch) + 1)), width: cw, height: ch)
                break
            }
        }
        let chosen = box ?? {
            let ratio = w / h
            let (cw, ch) = ratio < 3.0 / 4 ? (w, (w / (3.0 / 4)).rounded()) : ratio > 4.0 / 3 ? ((h * 4.0 / 3).rounded(), h) : (w, h)
            return CropBox(x: ((w - cw) / 2).rounded(.down), y: ((h - ch) / 2).rounded(.down), width: cw, height: ch)
        }()
        return Resampling.crop(image, chosen, width: size, height: size, flip: rng.uniform() < 0.5)
    }

    /// With probability 0.8: brightness 0.4, contrast 0.4, saturation 0.2, hue 0.1 in a random order (torchvision's
    /// ColorJitter); then grayscale with probability 0.2.
    public static func colorJitter(_ image: inout PlanarImage, using rng: inout SeededGenerator) {
        if rng.uniform() < 0.8 {
            let brightness = rng.uniform(0.6, 1.4), contrast = rng.uniform(0.6, 1.4)
            let saturation = rng.uniform(0.8, 1.2), hue = rng.uniform(-0.1, 0.1)
            for op in rng.permutation(4) {
                switch op {
                case 0: blend(&image, with: nil, factor: brightness)
                case 1: blend(&image, with: grayMean(image), factor: contrast)
                case 2: blend(&image, with: -1, factor: saturation)
                default: shiftHue(&image, by: hue)
                }
            }
        }
        if rng.uniform() < 0.2 { grayscale(&image) }
    }

    /// x ← clamp(f·x + (1 − f)·other, 0, 1) where other is black (nil), a constant, or (−1) the pixel's gray value.
    static func blend(_ image: inout PlanarImage, with other: Float?, factor f: Float) {
        let n = image.width * image.height
        for i in 0..<n {
            let gray = 0.299 * image.data[i] + 0.587 * image.data[n + i] + 0.114 * image.data[2 * n + i]
            let base: Float = other.map { $0 < 0 ? gray : $0 } ?? 0
            for c in 0..<3 { image.data[c * n + i] = min(1, max(0, f * image.data[c * n + i] + (1 - f) * base)) }
        }
    }

    static func grayMean(_ image: PlanarImage) -> Float {
        let n = image.width * image.height
        var sum: Float = 0
        for i in 0..<n { sum += 0.299 * image.data[i] + 0.587 * image.data[n + i] + 0.114 * image.data[2 * n + i] }
        return sum / Float(max(n, 1))
    }

    public static func grayscale(_ image: inout PlanarImage) {
        let n = image.width * image.height
        for i in 0..<n {
            let gray = 0.299 * image.data[i] + 0.587 * image.data[n + i] + 0.114 * image.data[2 * n + i]
            for c in 0..<3 { image.data[c * n + i] = gray }
        }
    }

    /// Rotates the hue by `shift` turns through HSV (torchvision's adjust_hue).
    static func shiftHue(_ image: inout PlanarImage, by shift: Float) {
        let n = image.width * image.height
        for i in 0..<n {
            let (r, g, b) = (image.data[i], image.data[n + i], image.data[2 * n + i])
            let maximum = max(r, g, b), minimum = min(r, g, b), delta = maximum - minimum
            guard delta > 0 else { continue }
            var hue: Float = maximum == r ? (g - b) / delta : maximum == g ? 2 + (b - r) / delta : 4 + (r - g) / delta
            hue = (hue / 6 + shift).truncatingRemainder(dividingBy: 1)
            if hue < 0 { hue += 1 }
            let s = delta / maximum, v = maximum
            let h6 = hue * 6, sector = Int(h6) % 6, f = h6 - Float(Int(h6))
            let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
            let rgb: (Float, Float, Float)
            switch sector {     // a switch, not an array literal: no allocation per pixel
            case 0: rgb = (v, t, p)
            case 1: rgb = (q, v, p)
            case 2: rgb = (p, v, t)
            case 3: rgb = (p, q, v)
            case 4: rgb = (t, p, v)
            default: rgb = (v, p, q)
            }
            image.data[i] = rgb.0; image.data[n + i] = rgb.1; image.data[2 * n + i] = rgb.2
        }
    }

    /// With `probability`: a separable Gaussian blur, sigma uniform in [0.1, 2] at 224 pixels, scaled to this crop.
    public static func gaussianBlur(_ image: inout PlanarImage, probability: Float, using rng: inout SeededGenerator) {
        guard rng.uniform() < probability else { return }
        let sigma = rng.uniform(0.1, 2.0) * Float(image.width) / 224
        blur(&image, sigma: sigma)
    }

    public static func blur(_ image: inout PlanarImage, sigma: Float) {
        let radius = Int((3 * sigma).rounded(.up))
        guard radius > 0 else { return }
        var kernel = (-radius...radius).map { Foundation.exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        let (w, h) = (image.width, image.height)
        func reflect(_ i: Int, _ n: Int) -> Int {
            guard n > 1 else { return 0 }
            var j = i
            while j < 0 || j >= n { j = j < 0 ? -j : 2 * (n - 1) - j }
            return j
        }
        var temp = image.data
        for c in 0..<3 {
            let base = c * w * h
            for y in 0..<h { for x in 0..<w {
                var acc: Float = 0
                for k in -radius...radius { acc += kernel[k + radius] * image.data[base + y * w + reflect(x + k, w)] }
                temp[base + y * w + x] = acc
            } }
            for y in 0..<h { for x in 0..<w {
                var acc: Float = 0
                for k in -radius...radius { acc += kernel[k + radius] * temp[base + reflect(y + k, h) * w + x] }
                image.data[base + y * w + x] = acc
            } }
        }
    }

    /// Pixels at or above half brightness are inverted (PIL's solarize at threshold 128).
    public static func solarize(_ image: inout PlanarImage) {
        for i in 0..<image.data.count where image.data[i] >= 0.5 { image.data[i] = 1 - image.data[i] }
    }
}

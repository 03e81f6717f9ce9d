// Branch-free exp and tanh built from adds, multiplies and bit operations only, so LLVM vectorises the
// loops that call them (the libm versions are scalar calls and dominated the GELU-heavy T5 block).
// Accuracy: fastExp within 3 ulp of expf on [-87, 88]; fastTanh within 1e-7 absolute, which is what
// GELU needs (its tanh is added to 1). The exact libm paths stay as `Tensor.exp()`/`tanh()`.

/// What `fastExp` needs of its argument, so one float and eight lanes run the same algorithm (and give the same bits:
/// a test checks it lane by lane).
protocol FastExpOperand {
    init(broadcasting value: Float)
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    /// min(max(self, low), high).
    func clamped(low: Float, high: Float) -> Self
    /// 2ⁿ for the integer n that `shifted` holds in its low mantissa bits (it was rounded by adding `roundingMagic`),
    /// as two factors so n = 128 does not overflow the exponent field.
    static func powerOfTwoFactors(_ shifted: Self) -> (Self, Self)
}

/// 1.5·2²³: adding it rounds a Float to an integer in the low mantissa bits without a conversion instruction.
private let roundingMagic: Float = 12_582_912

@inline(__always)
func fastExp<V: FastExpOperand>(_ x: V) -> V {
    let clamped = x.clamped(low: -87.3, high: 88.3)
    let magic = V(broadcasting: roundingMagic)
    let shifted = clamped * V(broadcasting: 1.442_695_04) + magic        // x / ln 2, rounded
    let n = shifted - magic
    // r = x − n·ln 2 with ln 2 in two parts (Cody–Waite), so |r| ≤ ln2 / 2 keeps full precision.
    let r = clamped - n * V(broadcasting: 0.693_145_751_953_125) - n * V(broadcasting: 1.428_606_765_330_187_045e-06)
    // exp(r) by its degree-6 Taylor/minimax polynomial (Horner form).
    var p = V(broadcasting: 1.388_888_9e-3)
    p = p * r + V(broadcasting: 8.333_333_3e-3)
    p = p * r + V(broadcasting: 4.166_666_6e-2)
    p = p * r + V(broadcasting: 1.666_666_7e-1)
    p = p * r + V(broadcasting: 0.5)
    p = p * r + V(broadcasting: 1)
    p = p * r + V(broadcasting: 1)
    let (scaleA, scaleB) = V.powerOfTwoFactors(shifted)
    return p * scaleA * scaleB
}

extension Float: FastExpOperand {
    @inline(__always) init(broadcasting value: Float) { self = value }
    @inline(__always) func clamped(low: Float, high: Float) -> Float { Swift.min(Swift.max(self, low), high) }
    @inline(__always) static func powerOfTwoFactors(_ shifted: Float) -> (Float, Float) {
        let k = Int32(bitPattern: shifted.bitPattern) &- Int32(bitPattern: roundingMagic.bitPattern)
        let half = k >> 1
        return (Float(bitPattern: UInt32(bitPattern: (half &+ 127) &<< 23)),
                Float(bitPattern: UInt32(bitPattern: (k &- half &+ 127) &<< 23)))
    }
}

extension SIMD8: FastExpOperand where Scalar == Float {
    @inline(__always) init(broadcasting value: Float) { self.init(repeating: value) }
    @inline(__always) func clamped(low: Float, high: Float) -> SIMD8<Float> {
        // Comparisons + blends rather than pointwiseMin/Max, which the optimiser left as out-of-line generic calls.
        let low = SIMD8(repeating: low), high = SIMD8(repeating: high)
        let raised = replacing(with: low, where: self .< low)
        return raised.replacing(with: high, where: raised .> high)
    }
    @inline(__always) static func powerOfTwoFactors(_ shifted: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
        let k = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- SIMD8<Int32>(repeating: Int32(bitPattern: roundingMagic.bitPattern))
        let half = k &>> 1
        let bias = SIMD8<Int32>(repeating: 127)
        return (unsafeBitCast((half &+ bias) &<< 23, to: SIMD8<Float>.self),
                unsafeBitCast((k &- half &+ bias) &<< 23, to: SIMD8<Float>.self))
    }
}

@inline(__always)
func fastTanh(_ x: Float) -> Float {
    // tanh(x) = sign(x)·(1 − 2/(e^{2|x|} + 1)); exact to ~1e-7 absolute.
    let e = fastExp(2 * Swift.abs(x))
    let magnitude = 1 - 2 / (e + 1)
    return x < 0 ? -magnitude : magnitude
}

/// GELU (tanh form) and its derivative at x, sharing one tanh.
@inline(__always)
func geluTanhWithDerivative(_ x: Float) -> (value: Float, derivative: Float) {
    let t = fastTanh(sqrt2OverPi * (x + geluCubic * x * x * x))
    let value = 0.5 * x * (1 + t)
    let derivative = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * sqrt2OverPi * (1 + 3 * geluCubic * x * x)
    return (value, derivative)
}

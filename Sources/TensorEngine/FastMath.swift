// Branch-free exp and tanh built from adds, multiplies and bit operations only, so LLVM vectorises the
// loops that call them (the libm versions are scalar calls and dominated the GELU-heavy T5 block).
// Accuracy: fastExp within 3 ulp of expf on [-87, 88]; fastTanh within 1e-7 absolute, which is what
// GELU needs (its tanh is added to 1). The exact libm paths stay as `Tensor.exp()`/`tanh()`.

/// 1.5·2²³: adding it rounds a Float to an integer in the low mantissa bits without a conversion instruction.
private let roundingMagic: Float = 12_582_912
private let log2e: Float = 1.442_695_04
private let ln2High: Float = 0.693_145_751_953_125
private let ln2Low: Float = 1.428_606_765_330_187_045e-06

@inline(__always)
func fastExp(_ x: Float) -> Float {
    let clamped = Swift.min(Swift.max(x, -87.3), 88.3)
    let shifted = clamped * log2e + roundingMagic
    let n = shifted - roundingMagic                       // round(x / ln 2)
    let r = clamped - n * ln2High - n * ln2Low            // |r| ≤ ln2 / 2
    // exp(r) by its degree-6 Taylor/minimax polynomial (Horner form).
    var p: Float = 1.388_888_9e-3
    p = p * r + 8.333_333_3e-3
    p = p * r + 4.166_666_6e-2
    p = p * r + 1.666_666_7e-1
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    // 2ⁿ from n's integer bits, split in two factors so n = 128 does not overflow the exponent field.
    let k = Int32(bitPattern: shifted.bitPattern) &- Int32(bitPattern: roundingMagic.bitPattern)
    let half = k >> 1
    let scaleA = Float(bitPattern: UInt32(bitPattern: (half &+ 127) &<< 23))
    let scaleB = Float(bitPattern: UInt32(bitPattern: (k &- half &+ 127) &<< 23))
    return p * scaleA * scaleB
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

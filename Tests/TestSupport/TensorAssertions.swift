import Foundation
import SafeTensors
import TensorEngine
import XCTest

/// Loads a fixture written by the scripts under scripts/ from a test target's `Fixtures` resources.
public func loadFixture(_ relativePath: String, in bundle: Bundle) throws -> SafeTensors {
    let url = bundle.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(relativePath)
    return try SafeTensors.read(contentsOf: url)
}

/// Fails with the tensor's name and its largest difference when |a − e| > atol + rtol·|e| anywhere (NaN always fails).
public func assertClose(_ actual: Tensor?, _ expected: Tensor, _ name: String, atol: Float = 1e-5, rtol: Float = 1e-4,
                        file: StaticString = #filePath, line: UInt = #line) {
    guard let actual else { return XCTFail("\(name): no value computed", file: file, line: line) }
    guard actual.shape == expected.shape else {
        return XCTFail("\(name): shape \(actual.shape), expected \(expected.shape)", file: file, line: line)
    }
    var worst: (index: Int, diff: Float, excess: Float) = (0, 0, 0)
    for i in 0..<expected.count {
        let a = actual[flat: i], e = expected[flat: i]
        let diff = abs(a - e), excess = diff - (atol + rtol * abs(e))
        if !(excess <= worst.excess) || a.isNaN { worst = (i, diff, a.isNaN ? .infinity : excess) }
    }
    if worst.excess > 0 {
        XCTFail("\(name): largest difference \(worst.diff) at flat index \(worst.index) (got \(actual[flat: worst.index]), expected \(expected[flat: worst.index]); atol \(atol), rtol \(rtol))",
                file: file, line: line)
    }
}

@testable import Quantization
import Foundation
import TensorEngine
import XCTest

/// Rows drawn around `centers` well-separated cluster centres (so nearest choices have clear margins).
func clusteredMatrix(rows: Int, columns: Int, centers: Int, spread: Float = 0.05, seed: UInt64) -> FloatMatrix {
    var rng = SeededGenerator(seed: seed)
    let means = (0..<centers * columns).map { _ in rng.normal() }
    let matrix = FloatMatrix(rows: rows, columns: columns)
    for r in 0..<rows {
        let c = rng.index(centers)
        for j in 0..<columns { matrix.row(r)[j] = means[c * columns + j] + spread * rng.normal() }
    }
    return matrix
}

func randomMatrix(rows: Int, columns: Int, seed: UInt64) -> FloatMatrix {
    var rng = SeededGenerator(seed: seed)
    return FloatMatrix(rows: rows, columns: columns, scalars: (0..<rows * columns).map { _ in rng.normal() })
}

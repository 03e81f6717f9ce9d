import ItemCodes
import Foundation

// The matrix forms of the `.npy` reader and writer (kept apart so the fuzzed readers build without the engine).
extension NpyFile {
    /// Streams the file's rows into `matrix`: file row r goes to matrix row `target(r)`, or is skipped when nil.
    public static func read(_ path: String, header: NpyHeader, into matrix: FloatMatrix, target: (Int) -> Int?) throws {
        guard matrix.columns == header.columns else {
            throw CodesError.mismatch("\(path) has \(header.columns) columns, expected \(matrix.columns)")
        }
        try read(path, header: header) { target($0).map(matrix.row) }
    }

    /// The whole file as a matrix.
    public static func readMatrix(_ path: String) throws -> FloatMatrix {
        let header = try header(of: path)
        let matrix = FloatMatrix(rows: header.rows, columns: header.columns)
        try read(path, header: header, into: matrix) { $0 }
        return matrix
    }

    /// Writes the matrix as a little-endian float32 `.npy`, atomically.
    public static func write(_ matrix: FloatMatrix, to url: URL) throws {
        try write(rows: matrix.rows, columns: matrix.columns, values: matrix.pointer, to: url)
    }
}

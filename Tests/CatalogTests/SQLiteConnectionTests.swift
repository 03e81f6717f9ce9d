import Catalog
import Foundation
import XCTest

final class SQLiteConnectionTests: XCTestCase {
    func testStatementsBindAndReadEveryValueKind() throws {
        let db = try SQLiteConnection(path: ":memory:", mode: .create)
        try db.execute("CREATE TABLE t(i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)")
        let insert = try db.prepare("INSERT INTO t VALUES(?, ?, ?, ?, ?)")
        try insert.run([.integer(Int64.min), .real(0.1), .text("héllo"), .blob([0, 255, 7]), .null])
        try insert.run([.integer(1), .real(2), .text(""), .blob([]), .null])
        let query = try db.prepare("SELECT i, r, s, b, n FROM t ORDER BY rowid")
        XCTAssertTrue(try query.step())
        XCTAssertEqual(query.int64(0), Int64.min)
        XCTAssertEqual(query.double(1), 0.1)
        XCTAssertEqual(query.text(2), "héllo")
        XCTAssertEqual(query.withBlob(3) { Array($0) }, [0, 255, 7])
        XCTAssertTrue(query.isNull(4))
        XCTAssertTrue(try query.step())
        XCTAssertEqual(query.withBlob(3) { $0.count }, 0)
        XCTAssertFalse(query.isNull(3), "an empty blob must not turn into NULL")
        XCTAssertFalse(try query.step())
    }

    func testTransactionRollsBackOnError() throws {
        let db = try SQLiteConnection(path: ":memory:", mode: .create)
        try db.execute("CREATE TABLE t(x INTEGER PRIMARY KEY)")
        struct Abort: Error {}
        XCTAssertThrowsError(try db.transaction {
            try db.execute("INSERT INTO t VALUES(1)")
            throw Abort()
        })
        let count = try db.prepare("SELECT COUNT(*) FROM t")
        try count.step()
        XCTAssertEqual(count.int(0), 0)
    }

    func testErrorsNameTheStatement() throws {
        let db = try SQLiteConnection(path: ":memory:", mode: .create)
        XCTAssertThrowsError(try db.prepare("SELECT * FROM nowhere")) { error in
            let sqliteError = error as? SQLiteError
            XCTAssertEqual(sqliteError?.sql, "SELECT * FROM nowhere")
            XCTAssertTrue(sqliteError?.message.contains("no such table") == true, "\(error)")
        }
    }
}

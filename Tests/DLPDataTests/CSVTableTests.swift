import DLPTensor
import XCTest

@testable import DLPData

final class CSVTableTests: XCTestCase {
  func testParsesHeaderQuotesAndBlankLines() throws {
    let text = "\u{FEFF}a, b ,\"c,d\",price\r\n1,2,3,4\n\n\"5\",6e1, -7 ,8.5\n"
    let table = try CSVTable(text: text, source: "t.csv")
    XCTAssertEqual(table.columns, ["a", "b", "c,d", "price"])
    XCTAssertEqual(table.rowCount, 2)
    XCTAssertEqual(table.values, [1, 2, 3, 4, 5, 60, -7, 8.5])
  }

  func testSplitDefaultsToLastColumn() throws {
    let table = try CSVTable(text: "a,b,y\n1,2,3\n4,5,6\n", source: "t.csv")
    let data = try table.split()
    XCTAssertEqual(data.x.tensor(), try Tensor(shape: [2, 2], scalars: [1, 2, 4, 5]))
    XCTAssertEqual(data.y.tensor(), Tensor([3, 6]))
    let byName = try table.split(target: "a")
    XCTAssertEqual(byName.x.tensor(), try Tensor(shape: [2, 2], scalars: [2, 3, 5, 6]))
    XCTAssertEqual(byName.y.tensor(), Tensor([1, 4]))
    assertDataError("no target column 'z'", "a, b, y") { _ = try table.split(target: "z") }
  }

  func testErrorsNameLineAndColumn() throws {
    assertDataError("t.csv", "row 2 (line 3)", "column 'b'", "'abc' is not a number") {
      _ = try CSVTable(text: "a,b\n1,2\n3,abc\n", source: "t.csv")
    }
    assertDataError("row 1 (line 2)", "column 'a'", "empty cell") {
      _ = try CSVTable(text: "a,b\n,2\n", source: "t.csv")
    }
    assertDataError("line 2 has 3 cells", "header has 2") {
      _ = try CSVTable(text: "a,b\n1,2,3\n", source: "t.csv")
    }
    assertDataError("unterminated quote") {
      _ = try CSVTable(text: "a,b\n\"1,2\n", source: "t.csv")
    }
    assertDataError("empty CSV") { _ = try CSVTable(text: "\n\n", source: "t.csv") }
    assertDataError("duplicate column") { _ = try CSVTable(text: "a,a\n1,2\n", source: "t.csv") }
  }

  func testReadsFileFromDisk() throws {
    let folder = try TestFiles.temporaryFolder(self)
    let url = folder.appendingPathComponent("d.csv")
    try Data("x1,x2,target\n0.5,1,0\n".utf8).write(to: url)
    let table = try CSVTable(contentsOf: url)
    XCTAssertEqual(table.values, [0.5, 1, 0])
    XCTAssertThrowsError(try CSVTable(contentsOf: folder.appendingPathComponent("missing.csv")))
  }

  func testTextColumnsAreLeftOutOnlyWhenAsked() throws {
    let text = "Date Time,p (mbar),T (degC)\n01.01.2009 00:10:00,996.52,-8.02\n01.01.2009 00:20:00,996.57,-8.41\n"
    XCTAssertThrowsError(try CSVTable(text: text, source: "jena.csv"))
    let table = try CSVTable(text: text, source: "jena.csv", skippingTextColumns: true, keepingDoubles: true)
    XCTAssertEqual(table.columns, ["p (mbar)", "T (degC)"])
    XCTAssertEqual(table.skippedColumns, ["Date Time"])
    XCTAssertEqual(table.values, [996.52, -8.02, 996.57, -8.41])
    XCTAssertEqual(table.doubleValues, [996.52, -8.02, 996.57, -8.41])
    // A later text cell in a numeric column is still an error naming it.
    XCTAssertThrowsError(try CSVTable(text: text + "x,1,oops\n", source: "jena.csv", skippingTextColumns: true))
  }
}

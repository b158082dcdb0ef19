import Foundation
import XCTest

@testable import DLP

final class ValidationPlanTests: XCTestCase {
  func testKFoldFollowsTheBook() throws {
    // n = 10, K = 3: num_val_samples = 3; folds validate [0,3), [3,6), [6,9); row 9 always trains.
    let tasks = try KFoldPlan(folds: 3).tasks(count: 10)
    XCTAssertEqual(tasks.count, 3)
    XCTAssertEqual(tasks.map(\.validationIndices), [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    XCTAssertEqual(tasks[0].trainIndices, [3, 4, 5, 6, 7, 8, 9])
    XCTAssertEqual(tasks[1].trainIndices, [0, 1, 2, 6, 7, 8, 9])
    XCTAssertEqual(tasks[2].trainIndices, [0, 1, 2, 3, 4, 5, 9])
    for t in tasks {
      XCTAssertTrue(t.trainIndices.contains(9), "leftover row 9 must stay in training")
    }
    XCTAssertEqual(tasks.map(\.fold), [0, 1, 2])
    XCTAssertEqual(tasks.map(\.repeat), [0, 0, 0])
  }

  func testFoldSizesDisjointnessAndCoverage() throws {
    for (n, k) in [(404, 4), (405, 4), (407, 4), (10, 2), (7, 7), (1000, 6)] {
      for shuffle in [false, true] {
        let tasks = try KFoldPlan(folds: k, shuffle: shuffle, seed: 42).tasks(count: n)
        XCTAssertEqual(tasks.count, k)
        var validated = Set<Int>()
        for t in tasks {
          XCTAssertEqual(t.validationIndices.count, n / k)
          XCTAssertEqual(t.trainIndices.count, n - n / k)
          XCTAssertTrue(Set(t.trainIndices).isDisjoint(with: t.validationIndices))
          XCTAssertEqual(Set(t.trainIndices + t.validationIndices), Set(0..<n))
          XCTAssertTrue(
            validated.isDisjoint(with: t.validationIndices),
            "validation folds overlap (n \(n), K \(k))")
          validated.formUnion(t.validationIndices)
        }
        // Every sample is validated exactly once, except the n % K leftovers, never validated.
        XCTAssertEqual(validated.count, n - n % k)
        let leftovers = Set(0..<n).subtracting(validated)
        XCTAssertEqual(leftovers.count, n % k)
        for t in tasks { XCTAssertTrue(leftovers.isSubset(of: t.trainIndices)) }
        if !shuffle {
          XCTAssertEqual(leftovers, Set((n - n % k)..<n), "the last rows are the leftovers")
        }
      }
    }
  }

  func testShuffledKFoldIsReproducibleAndSeeded() throws {
    let a = try KFoldPlan(folds: 4, shuffle: true, seed: 7).tasks(count: 100)
    let b = try KFoldPlan(folds: 4, shuffle: true, seed: 7).tasks(count: 100)
    let c = try KFoldPlan(folds: 4, shuffle: true, seed: 8).tasks(count: 100)
    let plain = try KFoldPlan(folds: 4).tasks(count: 100)
    XCTAssertEqual(a, b)
    XCTAssertNotEqual(a.map(\.validationIndices), c.map(\.validationIndices))
    XCTAssertNotEqual(a.map(\.validationIndices), plain.map(\.validationIndices))
    // Folds are contiguous blocks of one permutation, and training keeps the book's order.
    let order = a.flatMap(\.validationIndices)
    XCTAssertEqual(Set(order), Set(0..<100))
    XCTAssertEqual(a[1].trainIndices, Array(order[0..<25]) + Array(order[50..<100]))
  }

  func testTaskSeedsAreKeyedByRepeatAndFold() throws {
    let tasks = try IteratedKFoldPlan(folds: 3, repeats: 3, seed: 5).tasks(count: 30)
    XCTAssertEqual(Set(tasks.map(\.seed)).count, 9)
    for t in tasks { XCTAssertEqual(t.seed, FoldTask.seed(5, repeat: t.repeat, fold: t.fold)) }
    // The seed of a fold does not depend on whether the plan shuffles.
    let a = try KFoldPlan(folds: 3, shuffle: false, seed: 5).tasks(count: 30)
    let b = try KFoldPlan(folds: 3, shuffle: true, seed: 5).tasks(count: 30)
    XCTAssertEqual(a.map(\.seed), b.map(\.seed))
    XCTAssertNotEqual(
      try KFoldPlan(folds: 3, seed: 6).tasks(count: 30).map(\.seed), a.map(\.seed))
  }

  func testIteratedKFoldReshufflesEachRepeatReproducibly() throws {
    let plan = IteratedKFoldPlan(folds: 4, repeats: 3, seed: 11)
    let tasks = try plan.tasks(count: 50)
    XCTAssertEqual(tasks.count, 12)
    XCTAssertEqual(tasks.map(\.repeat), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    XCTAssertEqual(tasks.map(\.fold), [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])
    XCTAssertEqual(tasks, try plan.tasks(count: 50))
    let byRepeat = Dictionary(grouping: tasks, by: \.repeat)
    for r in 0..<3 {
      let folds = byRepeat[r]!
      XCTAssertEqual(Set(folds.flatMap(\.validationIndices)).count, 48)
      for t in folds { XCTAssertEqual(Set(t.trainIndices + t.validationIndices), Set(0..<50)) }
    }
    XCTAssertNotEqual(byRepeat[0]!.map(\.validationIndices), byRepeat[1]!.map(\.validationIndices))
    XCTAssertNotEqual(byRepeat[1]!.map(\.validationIndices), byRepeat[2]!.map(\.validationIndices))
    // Repeat 0 is the shuffled K-fold of the same seed; another seed gives other partitions.
    XCTAssertEqual(
      Array(tasks[0..<4]), try KFoldPlan(folds: 4, shuffle: true, seed: 11).tasks(count: 50))
    XCTAssertNotEqual(
      try IteratedKFoldPlan(folds: 4, repeats: 3, seed: 12).tasks(count: 50).map(
        \.validationIndices),
      tasks.map(\.validationIndices))
  }

  func testPlansRejectBadSettings() {
    XCTAssertThrowsError(try KFoldPlan(folds: 1).tasks(count: 10)) {
      XCTAssertTrue("\($0)".contains("at least 2 folds"), "\($0)")
    }
    XCTAssertThrowsError(try KFoldPlan(folds: 5).tasks(count: 4)) {
      XCTAssertTrue("\($0)".contains("at least 5 samples"), "\($0)")
    }
    XCTAssertThrowsError(try IteratedKFoldPlan(folds: 3, repeats: 0).tasks(count: 10))
    XCTAssertThrowsError(try HoldOutSplit(validationFraction: 1).tasks(count: 10))
    XCTAssertThrowsError(try HoldOutSplit(validationFraction: -0.1).tasks(count: 10))
    XCTAssertThrowsError(try HoldOutSplit(validationFraction: 0.9).tasks(count: 1))
  }

  func testHoldOutIsKerasValidationSplit() throws {
    // Keras: split_at = int(n * (1 - validation_split)); the last rows validate.
    let (train, validation) = try HoldOutSplit(validationFraction: 0.2).split(count: 10)
    XCTAssertEqual(train, Array(0..<8))
    XCTAssertEqual(validation, [8, 9])
    let odd = try HoldOutSplit(validationFraction: 0.3).split(count: 5)
    XCTAssertEqual(odd.train, [0, 1, 2])  // int(3.5) = 3
    XCTAssertEqual(odd.validation, [3, 4])
    let none = try HoldOutSplit(validationFraction: 0).split(count: 4)
    XCTAssertEqual(none.train, [0, 1, 2, 3])
    XCTAssertEqual(none.validation, [])

    let s1 = try HoldOutSplit(validationFraction: 0.25, shuffle: true, seed: 3).tasks(count: 40)
    let s2 = try HoldOutSplit(validationFraction: 0.25, shuffle: true, seed: 3).tasks(count: 40)
    XCTAssertEqual(s1, s2)
    XCTAssertEqual(s1.count, 1)
    XCTAssertEqual(s1[0].validationIndices.count, 10)
    XCTAssertEqual(Set(s1[0].trainIndices + s1[0].validationIndices), Set(0..<40))
    XCTAssertNotEqual(s1[0].validationIndices, Array(30..<40))
  }

  func testFoldTaskIsCodable() throws {
    let tasks = try IteratedKFoldPlan(folds: 3, repeats: 2, seed: 9).tasks(count: 20)
    let data = try JSONEncoder().encode(tasks)
    XCTAssertEqual(try JSONDecoder().decode([FoldTask].self, from: data), tasks)
    XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("\"repeat\""))
  }
}

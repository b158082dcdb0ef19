import XCTest

@testable import DLPCluster

final class TaskQueueTests: XCTestCase {
  func testIdleWorkersPullTasksInOrder() {
    var q = TaskQueue(count: 3)
    XCTAssertEqual(q.next(for: 0), 0)
    XCTAssertEqual(q.next(for: 1), 1)
    XCTAssertEqual(q.task(of: 1), 1)
    XCTAssertTrue(q.finish(worker: 1, task: 1))
    // The fast worker takes the next task while the slow one still runs its first.
    XCTAssertEqual(q.next(for: 1), 2)
    XCTAssertNil(q.next(for: 2), "nothing left to hand out")
    XCTAssertTrue(q.finish(worker: 1, task: 2))
    XCTAssertFalse(q.isFinished)
    XCTAssertTrue(q.finish(worker: 0, task: 0))
    XCTAssertTrue(q.isFinished)
    XCTAssertTrue(q.isIdle)
  }

  func testALostTaskGoesBackToTheFront() {
    var q = TaskQueue(count: 4)
    XCTAssertEqual(q.next(for: 0), 0)
    XCTAssertEqual(q.next(for: 1), 1)
    XCTAssertEqual(q.requeue(worker: 0), 0)
    XCTAssertNil(q.requeue(worker: 0), "worker 0 runs nothing any more")
    XCTAssertEqual(q.waiting, [0, 2, 3])
    XCTAssertEqual(q.next(for: 1 + 1), 0, "the lost task is redone first")
    XCTAssertTrue(q.finish(worker: 2, task: 0))
    XCTAssertEqual(q.done, [0])
  }

  func testAResultForAnotherTaskChangesNothing() {
    var q = TaskQueue(count: 2)
    XCTAssertEqual(q.next(for: 0), 0)
    let before = q
    XCTAssertFalse(q.finish(worker: 0, task: 1))
    XCTAssertFalse(q.finish(worker: 1, task: 0))
    XCTAssertEqual(q, before)
  }
}

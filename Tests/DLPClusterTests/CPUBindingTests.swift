import DLPCluster
import XCTest

final class CPUBindingTests: XCTestCase {
  func testEachSlotGetsItsOwnRunOfCPUsOrNoneWhenOversubscribed() {
    let allowed = [0, 1, 4, 5, 6, 7]
    XCTAssertEqual(CPUBinding.plan(slot: 0, slots: 2, threads: 1, allowed: allowed), [0])
    XCTAssertEqual(CPUBinding.plan(slot: 1, slots: 2, threads: 1, allowed: allowed), [1])
    // Only the CPUs this process may use count, in their order (a cpuset with holes).
    XCTAssertEqual(CPUBinding.plan(slot: 1, slots: 3, threads: 2, allowed: allowed), [4, 5])
    XCTAssertEqual(CPUBinding.plan(slot: 2, slots: 3, threads: 2, allowed: allowed), [6, 7])
    // More threads than CPUs: nobody is bound, as mpirun binds to none when oversubscribed.
    XCTAssertNil(CPUBinding.plan(slot: 0, slots: 4, threads: 2, allowed: allowed))
    XCTAssertNil(CPUBinding.plan(slot: 0, slots: 7, threads: 1, allowed: allowed))
    XCTAssertNil(CPUBinding.plan(slot: 0, slots: 1, threads: 1, allowed: []))
    // Nonsense slots bind nothing instead of trapping.
    XCTAssertNil(CPUBinding.plan(slot: 2, slots: 2, threads: 1, allowed: allowed))
    XCTAssertNil(CPUBinding.plan(slot: -1, slots: 2, threads: 1, allowed: allowed))
    XCTAssertNil(CPUBinding.plan(slot: 0, slots: 2, threads: 0, allowed: allowed))
  }

  func testThisProcessHasCPUs() {
    let cpus = CPUBinding.allowedCPUs()
    XCTAssertFalse(cpus.isEmpty)
    XCTAssertEqual(cpus, cpus.sorted())
    XCTAssertEqual(Set(cpus).count, cpus.count)
  }
}

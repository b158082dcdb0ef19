import Foundation
// TEMPORARY: measurement knobs, removed before the branch is done.
enum Knob {
  static func int(_ name: String) -> Int? {
    ProcessInfo.processInfo.environment[name].flatMap { Int($0) }
  }
}

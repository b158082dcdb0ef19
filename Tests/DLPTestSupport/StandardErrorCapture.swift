import Foundation

/// Sends this process's standard error to a file for a while: a fuzz run makes the code under
/// test log a warning for most of the hostile messages it refuses (tens of thousands of lines
/// that would drown the test output). The file keeps them, a crash's message included, and its
/// path is printed first. `DLP_FUZZ_VERBOSE=1` leaves standard error alone.
public final class StandardErrorCapture {
  public let path: String
  private var saved: Int32 = -1

  public init(name: String) {
    path = NSTemporaryDirectory() + "dlp-\(name)-\(getpid())-\(UUID().uuidString.prefix(8)).log"
    guard ProcessInfo.processInfo.environment["DLP_FUZZ_VERBOSE"] != "1" else { return }
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return }
    print("\(name): standard error goes to \(path) while it runs")
    fflush(nil)  // every C stream, so nothing written before lands in the file
    saved = dup(2)
    dup2(fd, 2)
    close(fd)
  }

  /// Restores standard error; returns how many lines were captured.
  @discardableResult
  public func restore() -> Int {
    guard saved >= 0 else { return 0 }
    fflush(nil)
    dup2(saved, 2)
    close(saved)
    saved = -1
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").count
  }

  /// Removes the file (after a run that passed: nothing in it is needed).
  public func discard() {
    restore()
    unlink(path)
  }

  deinit { restore() }
}

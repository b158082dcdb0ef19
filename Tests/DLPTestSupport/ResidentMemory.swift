import Foundation

/// This process's resident memory, for fuzz tests that check nothing grows with the number of
/// messages a hostile peer sends.
public enum ResidentMemory {
  /// Resident bytes (Linux: /proc/self/statm); 0 where that is not available.
  public static func bytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else {
      return 0
    }
    let fields = text.split(separator: " ")
    return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
  }
}

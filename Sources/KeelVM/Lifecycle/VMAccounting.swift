/// What a VM did, for the console and the stop report: kept apart from the machine itself.
public struct VMAccounting: Sendable {
  /// Host count at the last (re)boot.
  public var bootedAt: UInt64 = 0
  /// CPU ticks and host count the status screen last showed (its CPU % is since then).
  public var screenSample: (ticks: UInt64, at: UInt64) = (0, 0)
  /// Set at the first exit taken from EL0: the boot has reached user space (init).
  public private(set) var reachedUserspace = false
  /// Faults already reported, so a hostile guest cannot flood the console.
  private var reported: [UInt64] = []
  public static let reportLimit = 64

  public init() {}

  /// True the first time only.
  public mutating func noteUserspace() -> Bool {
    defer { reachedUserspace = true }
    return !reachedUserspace
  }

  /// True if a misbehaviour with this key (kind, address) has not been reported yet and the
  /// report budget is not spent; it then counts as reported.
  public mutating func firstReport(_ key: UInt64) -> Bool {
    guard !reported.contains(key), reported.count < Self.reportLimit else { return false }
    reported.append(key)
    return true
  }
}

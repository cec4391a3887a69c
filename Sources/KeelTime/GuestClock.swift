/// A guest counter derived from the host counter by frequency scaling (after VMware US 12,248,799):
/// `guest = guestStart + scale(host - hostStart)`, where each pause/resume starts a new segment.
///
/// Guarantees:
/// * monotonic: for host readings taken in order, guest values never decrease, across pauses,
///   resumes and host counter steps (a reading older than the current segment clamps to its start);
/// * within a segment the guest count is exactly `floor(elapsedHost * guestHz / hostHz)`;
/// * `hostCount(forGuest:)` is the exact inverse: the smallest host count (not before the segment
///   start) at which `guestCount` reaches the requested value, so a timer programmed with it never
///   fires early;
/// * no overflow for 100 years of a 1 GHz guest counter with host counters between 1 MHz and 1 GHz
///   (deltas stay below 2^62; products are 192-bit). Frequencies must be below 2^63 Hz.
///
/// Each pause/resume truncates the sub-tick fraction, so the guest loses less than one tick per pause.
public struct GuestClock: Sendable, Equatable {
  public let hostHz: UInt64
  public let guestHz: UInt64
  let toGuest: FixedPointRatio
  let toHost: FixedPointRatio
  var segmentHostStart: UInt64
  var segmentGuestStart: UInt64
  var pausedHost: UInt64 = 0
  var pausedGuest: UInt64 = 0
  public private(set) var isPaused = false

  /// The guest counter reads 0 at host count `hostNow`.
  /// - Precondition: both frequencies are non-zero.
  public init(hostHz: UInt64, guestHz: UInt64, hostNow: UInt64) {
    self.hostHz = hostHz
    self.guestHz = guestHz
    self.toGuest = FixedPointRatio(numerator: guestHz, denominator: hostHz)
    self.toHost = FixedPointRatio(numerator: hostHz, denominator: guestHz)
    self.segmentHostStart = hostNow
    self.segmentGuestStart = 0
  }

  public func guestCount(atHost host: UInt64) -> UInt64 {
    if isPaused { return pausedGuest }
    return runningGuestCount(atHost: host)
  }

  /// The earliest host count at which the guest counter has reached `guest`. Values already reached
  /// map to the segment start (in the past, so a deadline fires at once); `UInt64.max` means "never"
  /// (the clock is paused, or the value lies beyond the 64-bit host counter).
  public func hostCount(forGuest guest: UInt64) -> UInt64 {
    if isPaused { return guest <= pausedGuest ? pausedHost : .max }
    if guest <= segmentGuestStart { return segmentHostStart }
    let guestDelta = guest - segmentGuestStart
    // scale() is an exact floor, so ceil(delta * hostHz / guestHz) is the floor plus one unless exact.
    var hostDelta = toHost.scale(guestDelta)
    if hostDelta == .max { return .max }
    if !toHost.isExact(guestDelta, scaledTo: hostDelta) { hostDelta += 1 }
    let host = saturatingAdd(segmentHostStart, hostDelta)
    return runningGuestCount(atHost: host) >= guest ? host : .max
  }

  /// Freezes the guest counter at its value for host count `host`. Ignored when already paused.
  public mutating func pause(atHost host: UInt64) {
    guard !isPaused else { return }
    pausedGuest = runningGuestCount(atHost: host)
    pausedHost = host
    isPaused = true
  }

  /// Lets the guest counter run again from the value it was paused at. Ignored when running.
  public mutating func resume(atHost host: UInt64) {
    guard isPaused else { return }
    segmentHostStart = host
    segmentGuestStart = pausedGuest
    isPaused = false
  }

  /// The host counter jumped by `delta` (e.g. it was rewritten after a host suspend): every later
  /// host reading is off by `delta`, so moving the segment origin keeps the guest continuous.
  public mutating func hostCounterStepped(by delta: Int64) {
    segmentHostStart = Self.offset(segmentHostStart, by: delta)
    if isPaused { pausedHost = Self.offset(pausedHost, by: delta) }
  }

  /// When both counters tick at the same rate and the clock runs, the guest counter equals
  /// `host - offset` (wrapping), which is exactly what CNTVOFF_EL2 implements in hardware.
  public var identityOffset: UInt64? {
    guard hostHz == guestHz, !isPaused else { return nil }
    return segmentHostStart &- segmentGuestStart
  }

  func runningGuestCount(atHost host: UInt64) -> UInt64 {
    guard host > segmentHostStart else { return segmentGuestStart }
    return saturatingAdd(segmentGuestStart, toGuest.scale(host - segmentHostStart))
  }

  static func offset(_ value: UInt64, by delta: Int64) -> UInt64 {
    if delta >= 0 { return saturatingAdd(value, UInt64(delta)) }
    let magnitude = delta.magnitude
    return value >= magnitude ? value - magnitude : 0
  }
}

@inline(__always)
func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
  let (sum, overflow) = a.addingReportingOverflow(b)
  return overflow ? .max : sum
}

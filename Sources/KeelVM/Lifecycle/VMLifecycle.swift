/// Where a VM's current run stands. No payload: the state is read without a lock on every
/// exit, and a one-byte value cannot be read torn.
public enum RunState: Equatable, Sendable {
  case running
  /// The guest or the console asked for a reset: vCPUs leave, the VM reloads and boots again.
  case resetting
  /// Stopping or stopped (see `VMLifecycle.stopReason`).
  case stopping
}

/// The stop/reboot protocol of one VM, as a value the hypervisor keeps under the VM's lifecycle
/// lock. A run ends (`end`) from any CPU; running vCPUs leave at their next exit and the last
/// one out completes the stop or the reboot (`lastVCPULeft`), exactly once.
public struct VMLifecycle: Sendable {
  public private(set) var state: RunState = .running
  /// The stop or reboot under way was carried out.
  public private(set) var finished = false
  /// Paused from the console: vCPUs wait in Keel, guest time stands still.
  public private(set) var paused = false
  public private(set) var pausedAtCount: UInt64 = 0
  /// Who asked for the reboot under way, or why the VM stops (reported when it happens).
  public private(set) var rebootReason = "reset by the guest"
  public private(set) var stopReason = ""
  /// Host count when the stop or reboot under way began (a watchdog reports one that hangs).
  public private(set) var endedAt: UInt64 = 0
  public private(set) var overdueReported = false
  /// Host counts of recent guest resets, to tell a reboot from a reset loop.
  private var resets: [UInt64] = []

  public init() {}

  /// What the last vCPU out of an ended run must do.
  public enum Completion: Equatable, Sendable {
    case stopped(reason: String)
    case reboot(reason: String)
  }

  /// Ends the current run: `.stopping` stops the VM for `reason`, `.resetting` reboots it (and
  /// `reason` says who asked). False if it was not running (someone else ended it first).
  public mutating func end(_ next: RunState, reason: String, now: UInt64) -> Bool {
    guard state == .running, next != .running else { return false }
    if next == .stopping { stopReason = reason } else { rebootReason = reason }
    state = next
    endedAt = now
    return true
  }

  /// A reset requested by the guest at `now`. Three within `window` ticks are a reset loop (a
  /// kernel that panics at boot): the run then stops instead of rebooting. False if the VM was
  /// not running.
  public mutating func guestReset(now: UInt64, window: UInt64) -> Bool {
    resets = resets.filter { now &- $0 < window } + [now]
    if resets.count >= 3 { return end(.stopping, reason: "reset loop", now: now) }
    return end(.resetting, reason: "reset by the guest", now: now)
  }

  /// Every vCPU is off its CPU. Returns what to do the first time only.
  public mutating func lastVCPULeft() -> Completion? {
    guard state != .running, !finished else { return nil }
    finished = true
    return state == .stopping ? .stopped(reason: stopReason) : .reboot(reason: rebootReason)
  }

  /// The VM (re)boots: a new run begins.
  public mutating func booted() {
    state = .running
    finished = false
    overdueReported = false
    paused = false
  }

  /// Pauses the run at host count `now`. False if it was paused already (the first pause's
  /// time stands: guest time stopped then).
  public mutating func pause(at now: UInt64) -> Bool {
    guard !paused else { return false }
    paused = true
    pausedAtCount = now
    return true
  }

  /// Resumes the run at `now`. Returns how many host ticks it stood still, by which guest time
  /// must be held back; nil if it was not paused.
  public mutating func resume(at now: UInt64) -> UInt64? {
    guard paused else { return nil }
    paused = false
    return now &- pausedAtCount
  }

  /// A stop or reboot takes milliseconds; one still unfinished after `limit` ticks is a bug in
  /// the hypervisor. True once per run, when it first becomes overdue.
  public mutating func checkOverdue(now: UInt64, limit: UInt64) -> Bool {
    guard state != .running, !finished, !overdueReported, now &- endedAt > limit else { return false }
    overdueReported = true
    return true
  }

  /// Unfinished stop or reboot that a watchdog still has to look at.
  public var endingUnreported: Bool { state != .running && !finished && !overdueReported }

  /// For the console: running, paused, resetting or stopped(reason).
  public var description: String {
    switch state {
    case .running: return paused ? "paused" : "running"
    case .resetting: return "resetting"
    case .stopping: return "stopped(\(stopReason))"
    }
  }
}

/// Decisions the hypervisor shell asks for in one call under its scheduler lock: which host CPUs
/// to kick, and when a CPU's scheduling timer fires.
extension Scheduler {
  /// Who must hear of new virtual interrupts (`deliver`).
  public struct Delivery: Equatable, Sendable {
    /// CPUs that must pick again: a woken vCPU was sent there, or, when it could be sent
    /// nowhere, they run a vCPU with no slice timer and must arm one now that it has competition.
    public var reschedule = CPUMask()
    /// Other CPUs running a target vCPU: interrupting them makes it take the interrupt now.
    /// None of them is in `reschedule`.
    public var interrupt = CPUMask()
  }

  /// Virtual interrupts became pending for the vCPUs of `vm` in `mask` (bit n: its vCPU n), on
  /// host CPU `cpu` (nil: outside any vCPU's trap): sleeping vCPUs wake, unless the VM is
  /// `paused`, and running ones on other CPUs are interrupted.
  public mutating func deliver(_ mask: UInt64, to vm: VMID, paused: Bool, from cpu: HostCPUID?, now: UInt64) -> Delivery {
    var out = Delivery()
    var unplaced = false
    for index in 0..<topology.vmVCPUCount[vm.index] where mask >> UInt64(index) & 1 == 1 {
      let v = vcpu(index, of: vm)
      switch state(of: v) {
      case .blocked:
        guard !paused else { continue }
        if let target = wake(v, now: now) { out.reschedule.insert(target) } else { unplaced = true }
      case .running(let host):
        if host != cpu { out.interrupt.insert(host) }
      default:
        break
      }
    }
    if unplaced { out.reschedule.rawValue |= unarmedBusyCPUs().rawValue }
    out.interrupt.rawValue &= ~out.reschedule.rawValue
    return out
  }

  /// `powerOn`, and the CPUs to kick for it: the one it was sent to or, with none free, the
  /// busy CPUs that have no slice timer.
  public mutating func start(_ vcpu: VCPUID, now: UInt64) -> CPUMask {
    if let target = powerOn(vcpu, now: now) { return CPUMask(target) }
    return state(of: vcpu) == .runnable ? unarmedBusyCPUs() : CPUMask()
  }

  /// CPUs running a vCPU without a slice timer, which must arm one when competition appears.
  @inline(__always)
  public func unarmedBusyCPUs() -> CPUMask {
    var mask = CPUMask()
    for c in 0..<cpuRunning.count where !cpuSliceArmed[c] && cpuRunning[c] >= 0 { mask.insert(HostCPUID(c)) }
    return mask
  }

  public func sliceArmed(on cpu: HostCPUID) -> Bool { cpuSliceArmed[cpu.index] }

  /// When `cpu`'s scheduling timer must next fire (nil: not at all) while it runs a vCPU of
  /// `running` (nil: it is idle). A vCPU with no competitor and no limit gets no slice end, so an
  /// uncontended guest runs without scheduling exits; `unarmedBusyCPUs` remembers that.
  public mutating func timerDeadline(cpu: HostCPUID, now: UInt64, running vm: VMID?) -> UInt64? {
    let contended = vm.map { hasWaitingWork() || isLimited($0) } ?? false
    cpuSliceArmed[cpu.index] = vm == nil || contended
    return nextEvent(cpu: cpu, now: now, sliceEnds: contended)
  }

  /// `cpu`'s scheduling timer fired: deadlines that passed wake their vCPUs, and runnable work
  /// moves to idle CPUs. Returns the other CPUs to kick (`cpu` picks again anyway).
  public mutating func tick(cpu: HostCPUID, now: UInt64) -> CPUMask {
    var kicks = handleTimers(now: now)
    while let move = nextMigration(now: now) { kicks.insert(move.to) }
    kicks.remove(cpu)
    return kicks
  }

  /// The CPUs running a vCPU of `vm` (to interrupt, so that they leave it).
  public func hostCPUs(runningVCPUsOf vm: VMID) -> CPUMask {
    var mask = CPUMask()
    for index in 0..<topology.vmVCPUCount[vm.index] {
      if case .running(let host) = state(of: vcpu(index, of: vm)) { mask.insert(host) }
    }
    return mask
  }

  /// The VM's run ended (stop or reboot): its vCPUs not on a CPU are off at once; returns the
  /// CPUs of the others, which go off when they leave.
  public mutating func endRun(of vm: VMID) -> CPUMask {
    for index in 0..<topology.vmVCPUCount[vm.index] where !isRunning(vcpu(index, of: vm)) { powerOff(vcpu(index, of: vm)) }
    return hostCPUs(runningVCPUsOf: vm)
  }

  /// Every vCPU of `vm` is off.
  public func allOff(_ vm: VMID) -> Bool {
    (0..<topology.vmVCPUCount[vm.index]).allSatisfy { state(of: vcpu($0, of: vm)) == .off }
  }

  private func isRunning(_ v: VCPUID) -> Bool {
    if case .running = state(of: v) { return true }
    return false
  }
}

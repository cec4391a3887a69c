#if os(none)
import CKeelEL2
import KeelTime
import KeelVGIC
import KeelPSCI
import KeelArch
import KeelSched
import KeelVM
import Synchronization

/// The shell of Keel's vCPU scheduler. KeelSched's `Scheduler` decides which vCPU runs where and
/// for how long; this file carries the decisions out on the hardware: it switches vCPUs on a host
/// CPU, arms the EL2 physical timer (CNTHP) for slice ends and wake-up deadlines, and turns
/// virtual interrupts for sleeping vCPUs into wake-ups.
///
/// Rules:
/// - `Sched.lock` guards the policy. It is never taken with a VM lock held.
/// - A vCPU's hardware state lives either on one host CPU (`resident` names it) or in the VCPU
///   object. A CPU that picks a vCPU another CPU is still saving waits for the save to finish.
/// - A host CPU is asked to pick again by `requestReschedule` (flag, then the kick SGI); it acts
///   on the request at its next exit or when its idle WFI ends.
enum Sched {
  /// The policy, in place: a stored optional would copy the whole struct (retaining each of its
  /// arrays) for every non-mutating call, and the scheduler is consulted on most exits.
  static var policy: Scheduler {
    unsafeAddress { UnsafePointer(storage!) }
    unsafeMutableAddress { storage! }
  }
  nonisolated(unsafe) private static var storage: UnsafeMutablePointer<Scheduler>? = nil
  /// All vCPUs by `VCPUID`.
  nonisolated(unsafe) static var vcpus: [VCPU] = []
  static let lock = SpinLock()
  static let ready = Atomic<Bool>(false)

  /// One policy over every VM, in `Host.vms` order (VM i is `VMID(i)`). With no group in the
  /// configuration, all VMs share one implicit root group: a single virtual host.
  static func start(_ machine: MachineDefinition, vms: [VM], hostCPUs: Int) {
    var started = machine
    started.vms = vms.map { $0.definition }
    let configuration = started.schedulerConfiguration(hostCPUs: hostCPUs, ticksPerSecond: Host.counterHz)
    do throws(AdmissionError) {
      let policy = try Scheduler(configuration: configuration)
      storage = UnsafeMutablePointer<Scheduler>.allocate(capacity: 1)
      storage!.initialize(to: policy)
    } catch {
      hypervisorPanic("the CPU allocation cannot be admitted: \(error)")
    }
    for vm in vms {
      for v in vm.vcpus {
        v.id = policy.vcpu(v.index, of: VMID(vm.id))
        vcpus.append(v)
      }
    }
    slack = SleepSlack(ticksPerSecond: Host.counterHz)
    Console.log("scheduler: \(vcpus.count) vCPUs of \(vms.count) VMs on \(hostCPUs) host CPUs, \(machine.cpuMHz) MHz each, \(configuration.groups.count) resource groups")
  }

  nonisolated(unsafe) static var slack = SleepSlack(ticksPerSecond: 0)
}

// MARK: The host CPU loop

/// What a host CPU does whenever it has no vCPU on it: run the vCPU the policy picks, or sleep
/// until an interrupt or its next timer event.
func schedule(_ cpu: PerCPU) -> Never {
  while !Sched.ready.load(ordering: .acquiring) { keel_wfe() }
  while true {
    let now = keel_read_cntpct_el0()
    Sched.lock.lock()
    cpu.rescheduleRequested.store(false, ordering: .relaxed)
    if let next = Sched.policy.pickNext(cpu: cpu.id, now: now) {
      Sched.lock.unlock()
      run(Sched.vcpus[next.vcpu.index], on: cpu)
    }
    armTimer(cpu, now: now, running: nil)
    Sched.lock.unlock()
    Host.gic.resampleAfterGuestDeactivation()
    if !cpu.rescheduleRequested.load(ordering: .acquiring) { keel_wfi() }
    drainHostInterrupts(cpu)
    watchEndingVMs()
  }
}

/// A stop or reboot is carried out within milliseconds; one that takes seconds is a bug in
/// Keel, and what every vCPU was doing is the evidence (logged once per VM).
func watchEndingVMs() {
  let now = keel_read_cntpct_el0()
  for vm in Host.vms where vm.endingUnreported {
    vm.lifecycleLock.lock()
    let overdue = vm.lifecycle.checkOverdue(now: now, limit: 2 * Host.counterHz)
    vm.lifecycleLock.unlock()
    guard overdue else { continue }
    Console.log("BUG: \(vm.name) has not finished stopping or rebooting after 2 s")
    logSchedulerState()
  }
}

/// Load `v` on this CPU and enter it; then it never returns (the next time this CPU runs Swift
/// it is in a trap). Returns if `v` cannot run after all: its VM stopped, reboots or is paused.
func run(_ v: VCPU, on cpu: PerCPU) {
  let vm = v.vm
  // The CPU it last ran on may still be saving it.
  let waitStart = keel_read_cntpct_el0()
  var reported = false
  var asked = false
  while v.resident.load(ordering: .acquiring) >= 0 {
    // It may sleep loaded on the CPU it last ran on (`idleLoaded`): ask that CPU to let it go.
    let holder = v.resident.load(ordering: .relaxed)
    if !asked && holder >= 0 && holder != cpu.slot {
      asked = true
      requestReschedule(CPUMask(HostCPUID(holder)))
    }
    if !reported && keel_read_cntpct_el0() &- waitStart > Host.counterHz {
      reported = true
      Console.log("BUG: CPU \(cpu.slot) has waited 1 s for \(v.vm.name) vcpu\(v.index) to leave CPU \(v.resident.load(ordering: .relaxed))")
    }
    keel_wfe()
  }
  if vm.state != .running || vm.paused || v.power == .off {
    // Decided under the scheduler lock, which orders it against `endRun`'s look at the vCPUs.
    Sched.lock.lock()
    let stopping = vm.state != .running
    if !stopping && vm.paused && v.power != .off {
      Sched.policy.block(v.id, until: nil, now: keel_read_cntpct_el0())
    } else {
      Sched.policy.powerOff(v.id)
    }
    Sched.lock.unlock()
    if stopping { vcpuLeft(vm) }
    return
  }
  if v.power == .onPending {
    vm.lifecycleLock.lock()
    v.power = .on
    vm.lifecycleLock.unlock()
    v.reset(entry: v.startEntry, x0: v.startContext)
  }
  restore(v, on: cpu)
  let now = keel_read_cntpct_el0()
  v.stintStart = now
  Sched.lock.lock()
  armTimer(cpu, now: now, running: v)
  Sched.lock.unlock()
  flushInterrupts(v)
  keel_enter_guest()
}

/// At an exit: give the CPU to whatever the policy picks now. Returns if `v` keeps running.
func reschedule(_ cpu: PerCPU, _ v: VCPU) {
  let now = keel_read_cntpct_el0()
  Sched.lock.lock()
  cpu.rescheduleRequested.store(false, ordering: .relaxed)
  Sched.policy.account(vcpu: v.id, ran: now &- v.stintStart, now: now)
  v.stintStart = now
  var next = Sched.policy.pickNext(cpu: cpu.id, now: now)
  if next?.vcpu == v.id {
    armTimer(cpu, now: now, running: v)
    Sched.lock.unlock()
    return
  }
  let waitLoaded = next == nil && Sched.policy.state(of: v.id).isBlocked
  if waitLoaded { armTimer(cpu, now: now, running: nil) }
  Sched.lock.unlock()
  if waitLoaded {
    switch idleLoaded(cpu, v) {
    case .resume: return
    case .leave: drop(v, from: cpu); schedule(cpu)
    case .switchTo(let other): next = other
    }
  }
  save(v, from: cpu)
  if let next { run(Sched.vcpus[next.vcpu.index], on: cpu) }
  schedule(cpu)
}

enum IdleOutcome {
  /// The vCPU runs again here: nothing to restore.
  case resume
  /// Its VM stops or reboots: drop it.
  case leave
  /// This CPU runs something else (or nothing): save the vCPU first.
  case switchTo(Dispatch?)
}

/// `v` waits for an interrupt and nothing else wants this CPU: the CPU sleeps with `v` still
/// loaded, so waking it is a list-register write and an ERET rather than a full restore. Its
/// own timers stay live and wake it through their hardware-linked interrupts; a CPU that wants
/// `v` elsewhere kicks this one (`run`), and so does a stop or reboot (`finishEnding`).
func idleLoaded(_ cpu: PerCPU, _ v: VCPU) -> IdleOutcome {
  let vm = v.vm
  let epoch = vm.loadEpoch.load(ordering: .acquiring)
  while true {
    Host.gic.resampleAfterGuestDeactivation()
    if !cpu.rescheduleRequested.load(ordering: .acquiring) { keel_wfi() }
    drainHostInterrupts(cpu)
    watchEndingVMs()
    if vm.state != .running || v.power != .on { return .leave }
    if vm.loadEpoch.load(ordering: .acquiring) != epoch { return .switchTo(nil) }
    // What arrived (a timer of `v` fired, another vCPU's SGI) goes into the list registers now;
    // that also settles a maintenance condition, which would otherwise keep this CPU awake.
    flushInterrupts(v)
    let pending = VGIC.hasPendingInListRegisters(inUse: v.listRegistersInUse, Host.gic)
    let now = keel_read_cntpct_el0()
    Sched.lock.lock()
    var elsewhere: HostCPUID? = nil
    if pending && !vm.paused, let target = Sched.policy.wake(v.id, now: now), target != cpu.id { elsewhere = target }
    cpu.rescheduleRequested.store(false, ordering: .relaxed)
    let next = Sched.policy.pickNext(cpu: cpu.id, now: now)
    let stillWaiting = next == nil && Sched.policy.state(of: v.id).isBlocked
    if next?.vcpu == v.id {
      armTimer(cpu, now: now, running: v)
    } else if stillWaiting {
      armTimer(cpu, now: now, running: nil)
    }
    Sched.lock.unlock()
    if let elsewhere { requestReschedule(CPUMask(elsewhere)) }
    if next?.vcpu == v.id {
      v.stintStart = now
      return .resume
    }
    if !stillWaiting { return .switchTo(next) }
  }
}

/// `v` stops for good (CPU_OFF, its VM stops or reboots): its state is dropped, not saved.
func leaveForGood(_ cpu: PerCPU, _ v: VCPU) -> Never {
  let now = keel_read_cntpct_el0()
  Sched.lock.lock()
  Sched.policy.account(vcpu: v.id, ran: now &- v.stintStart, now: now)
  Sched.policy.powerOff(v.id)
  Sched.lock.unlock()
  drop(v, from: cpu)
  schedule(cpu)
}

/// The vCPU waits for an interrupt: WFI, or PSCI CPU_SUSPEND with `slack` set by the depth of
/// the requested state. It wakes at its earliest timer deadline or when a virtual interrupt
/// arrives (`deliver`); meanwhile its host CPU runs others or sleeps.
func block(_ v: VCPU, on cpu: PerCPU, slack: UInt64) {
  let now = keel_read_cntpct_el0()
  Sched.lock.lock()
  Sched.policy.block(v.id, until: wakeDeadline(v), slack: slack, now: now)
  Sched.lock.unlock()
  // An interrupt raised between the caller's check and the block saw a running vCPU and only
  // kicked this CPU; look again now that a wake-up would find it blocked.
  let vm = v.vm
  vm.devicesLock.lock()
  let pending = vm.devices.interrupts.vgic.hasDeliverable(vcpu: v.index)
  vm.devicesLock.unlock()
  if pending {
    Sched.lock.lock()
    let target = Sched.policy.wake(v.id, now: now)
    Sched.lock.unlock()
    // The policy may have sent it to an idle CPU, which must hear of it.
    if let target, target != cpu.id { requestReschedule(CPUMask(target)) }
  }
  reschedule(cpu, v)
}

/// Host time at which the vCPU's own timers fire: the virtual timer (guest count + CNTVOFF)
/// and the physical timer. nil: no timer armed.
func wakeDeadline(_ v: VCPU) -> UInt64? {
  var deadline: UInt64? = nil
  if TimerControl.armed(keel_read_cntv_ctl_el0()) {
    let (host, overflow) = keel_read_cntv_cval_el0().addingReportingOverflow(v.vm.counterOffset)
    deadline = overflow ? nil : host
  }
  if let clock = v.vm.clock {
    if let physical = v.physicalTimer.hostDeadline(on: clock) { deadline = min(deadline ?? .max, physical) }
  } else if TimerControl.armed(keel_read_cntp_ctl_el0()) {
    // Pass-through time: the guest's physical timer compares against the host counter itself.
    deadline = min(deadline ?? .max, keel_read_cntp_cval_el0())
  }
  return deadline
}

// MARK: Kicks and wake-ups

/// Virtual interrupts became pending for the vCPUs in `mask` (bit n = vCPU n): wake those that
/// sleep, interrupt those running on other CPUs so they take the interrupt now.
func deliver(_ vm: VM, _ mask: UInt64, from cpu: PerCPU? = nil) {
  guard mask != 0, Sched.ready.load(ordering: .acquiring) else { return }
  let now = keel_read_cntpct_el0()
  Sched.lock.lock()
  let delivery = Sched.policy.deliver(mask, to: VMID(vm.id), paused: vm.paused, from: cpu?.id, now: now)
  Sched.lock.unlock()
  requestReschedule(delivery.reschedule)
  for host in delivery.interrupt { Host.cpus[host.index].kick() }
}

/// The vCPU was powered on (boot, PSCI CPU_ON, reboot, resume): make it runnable.
func powerOn(_ v: VCPU) {
  Sched.lock.lock()
  let kicks = Sched.policy.start(v.id, now: keel_read_cntpct_el0())
  Sched.lock.unlock()
  requestReschedule(kicks)
}

func requestReschedule(_ cpus: CPUMask) {
  for host in cpus {
    let cpu = Host.cpus[host.index]
    cpu.rescheduleRequested.store(true, ordering: .releasing)
    cpu.kick()
  }
}

/// The CNTHP timer fired on this CPU: wake vCPUs whose deadlines passed, rebalance onto idle
/// CPUs, and pick again here.
func schedulerTick(_ cpu: PerCPU) {
  keel_write_cnthp_ctl_el2(0b10)   // masked: the level drops until the timer is armed again
  let now = keel_read_cntpct_el0()
  Sched.lock.lock()
  let kicks = Sched.policy.tick(cpu: cpu.id, now: now)
  Sched.lock.unlock()
  cpu.rescheduleRequested.store(true, ordering: .relaxed)
  requestReschedule(kicks)
  watchEndingVMs()
}

/// Programs this CPU's scheduling timer for its next event (`Scheduler.timerDeadline`); an idle
/// CPU also wakes every second while a stop or reboot is unreported. Called with `Sched.lock` held.
func armTimer(_ cpu: PerCPU, now: UInt64, running v: VCPU?) {
  var next = Sched.policy.timerDeadline(cpu: cpu.id, now: now, running: v.map { VMID($0.vm.id) })
  if v == nil && Host.vms.contains(where: { $0.endingUnreported }) {
    next = min(next ?? .max, now &+ Host.counterHz)
  }
  if let next {
    keel_write_cnthp_cval_el2(next)
    keel_write_cnthp_ctl_el2(1)
  } else {
    keel_write_cnthp_ctl_el2(0)
  }
  keel_isb()
}

// MARK: vCPU state on and off a host CPU

/// Puts everything of `v` that lives in hardware onto this CPU.
func restore(_ v: VCPU, on cpu: PerCPU) {
  let vm = v.vm
  v.resident.store(cpu.slot, ordering: .relaxed)
  cpu.load(v)
  keel_write_vttbr_el2(vm.stage2.vttbr(vmid: vm.vmid))
  keel_write_vtcr_el2(Host.vtcr)
  keel_write_hcr_el2(HypervisorConfigurationRegister.keelGuest.rawValue)
  keel_write_vmpidr_el2(v.affinity.mpidr)
  keel_write_vpidr_el2(keel_read_midr_el1())
  keel_write_cntvoff_el2(vm.counterOffset)
  // What the guest reads as its counter's frequency: a scaled trapped-time VM's own (EL2 is
  // the highest exception level here, so CNTFRQ_EL0 is writable and per CPU).
  if Host.counterFrequencyWritable { keel_write_cntfrq_el0(vm.reportedCounterFrequency) }
  // Pass-through time: EL1 uses the physical counter and timer directly (EL1PCTEN, EL1PCEN),
  // and the timer is switched with the vCPU. Trapped time: both trap, and Keel runs the
  // guest's clock (Time.swift).
  keel_write_cnthctl_el2(vm.clock == nil ? 0b11 : 0)
  // TDA: debug-register accesses trap, so the backdoor's EL0 MRS MDCCSR_EL0 reaches Keel even
  // though Linux sets MDSCR_EL1.TDCC (Debug.swift keeps the guest's MDSCR_EL1 in a shadow).
  keel_write_mdcr_el2(Host.mdcrBase | 1 << 9)
  v.el1.load()
  keel_fp_load(v.context)
  keel_write_mdscr_el1(v.mdscrShadow & ~DebugRegister.tdcc)
  if vm.clock == nil {
    keel_write_cntp_cval_el0(v.el1.cntpCval)
    keel_write_cntp_ctl_el0(v.el1.cntpCtl)
  } else {
    reloadGuestTimer(v)
  }
  v.pmu.load()
  v.debug.load()
  Host.gic.activatePrivate(v.timerActive, slot: cpu.slot)
  Host.gic.restoreVirtualInterface(v.gicState)
  // With HCR_EL2.FB the guest's own TLB maintenance is broadcast, but entries another vCPU of
  // this VM left here were made under that vCPU's view (its ASIDs, its last maintenance).
  if cpu.lastVCPU[vm.id] != v.index {
    keel_flush_local_guest_context()
    cpu.lastVCPU[vm.id] = v.index
  }
  keel_isb()
}

/// Moves `v`'s hardware state from this CPU into the VCPU object.
func save(_ v: VCPU, from cpu: PerCPU) {
  v.el1.save()
  keel_fp_save(v.context)
  if v.vm.clock == nil {
    v.el1.cntpCtl = keel_read_cntp_ctl_el0() & 0b11
    v.el1.cntpCval = keel_read_cntp_cval_el0()
  }
  silenceGuestTimers()
  v.pmu.save()
  v.debug.unload()
  v.timerActive = Host.gic.takeActivePrivate(Host.linkedPPIs, slot: cpu.slot)
  Host.gic.saveVirtualInterface(&v.gicState, inUse: v.listRegistersInUse)
  unload(v, from: cpu)
}

/// Takes `v` off this CPU without keeping anything: it will start afresh, if ever.
func drop(_ v: VCPU, from cpu: PerCPU) {
  silenceGuestTimers()
  if v.pmu.touched { PMUState.quiesce(eventCounters: v.pmu.eventCounters) }
  v.debug.unload()
  Host.gic.deactivatePrivate(Host.linkedPPIs, slot: cpu.slot)
  var scratch = VirtualInterfaceState()
  Host.gic.saveVirtualInterface(&scratch, inUse: 0)
  unload(v, from: cpu)
}

/// Silences the guest's timers on this CPU so they cannot interrupt whoever runs next.
private func silenceGuestTimers() {
  keel_write_cntv_ctl_el0(0)
  keel_write_cntp_ctl_el0(0)
  keel_isb()
}

private func unload(_ v: VCPU, from cpu: PerCPU) {
  cpu.unload()
  v.resident.store(-1, ordering: .releasing)
  keel_sev()
  // Its VM may be stopping or rebooting, waiting for this vCPU to leave the CPU. `endRun` only
  // kicks a vCPU that was running when it looked; one that went to sleep or was preempted
  // after seeing the VM still running (an unlocked read at the start of `leaveTrap`) is
  // powered off here, or nothing would ever finish the stop.
  if v.vm.state != .running {
    Sched.lock.lock()
    switch Sched.policy.state(of: v.id) {
    case .blocked, .runnable: Sched.policy.powerOff(v.id)
    default: break
    }
    Sched.lock.unlock()
    vcpuLeft(v.vm)
  }
}
#endif

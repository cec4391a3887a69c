#if os(none)
import CKeelEL2
import KeelSched
import Synchronization
import KeelArch
import KeelPSCI
import KeelVGIC
import KeelVM

/// The single entry from the vectors for every exception taken from a guest, top to bottom:
/// decode → handler (returns a `TrapOutcome`) → `apply` (the only place the PC moves) → leave.
/// kind: 0 synchronous, 1 IRQ, 2 FIQ, 3 SError.
@_cdecl("keel_trap")
func keelTrap(_ kind: UInt64) {
  PerCPU.withCurrent { cpu in
    guard let v = cpu.loaded else { noVCPULoaded(kind, cpu) }
    v._withUnsafeGuaranteedRef { v in trap(kind, cpu, v) }
  }
}

/// Out of line: its message would otherwise give every exit a large stack frame.
@inline(never)
func noVCPULoaded(_ kind: UInt64, _ cpu: PerCPU) -> Never {
  hypervisorPanic("trap kind \(kind) with no vCPU loaded on CPU \(cpu.slot)")
}

@inline(__always)
private func trap(_ kind: UInt64, _ cpu: PerCPU, _ v: VCPU) {
  // The saved PSTATE first: most exits come from EL1, and it is already at hand.
  if ProcessorState.exceptionLevel(v.pstate) == 0 && !v.vm.accounting.reachedUserspace { v.vm.noteUserspace() }
  let esr = ExceptionSyndrome(rawValue: keel_read_esr_el2())
  let outcome: TrapOutcome
  switch kind {
  case 0:
    outcome = handleSynchronous(cpu, v, esr)
  case 1, 2:
    v.exits.irq += 1
    drainHostInterrupts(cpu)
    outcome = .resume
  default:
    v.exits.other += 1
    v.vm.reportOnce(0x5E << 56, "vcpu\(v.index): SError from the guest (ESR \(hex(esr.rawValue))); injecting an abort")
    outcome = .inject(.dataAbort(address: 0, isWrite: false))
  }
  apply(outcome, esr, cpu, v)
  leaveTrap(cpu, v)
}

/// Carries out a handler's decision.
@inline(__always)
func apply(_ outcome: TrapOutcome, _ esr: ExceptionSyndrome, _ cpu: PerCPU, _ v: VCPU) {
  switch outcome {
  case .advance:
    v.pc &+= esr.instructionLength
  case .resume:
    break
  case .inject(let exception):
    v.inject(exception)
  case .wait(let advance, let slack):
    if advance { v.pc &+= esr.instructionLength }
    waitForInterrupt(cpu, v, slack: slack)
  case .suspendPowerdown(let entry, let context, let slack):
    // Context was lost: resume at the entry point as if from CPU_ON.
    v.pc = entry
    v.pstate = ProcessorState.el1hMasked
    v.setGPR(0, context)
    keel_write_sctlr_el1(EL1State().sctlr)
    waitForInterrupt(cpu, v, slack: slack)
  case .yield:
    v.pc &+= esr.instructionLength
    // The guest spins on a lock or an event. With other vCPUs waiting, give way (the one it
    // waits for may be among them); otherwise just let the host CPU breathe.
    Sched.lock.lock()
    let waiting = Sched.policy.hasWaitingWork()
    Sched.lock.unlock()
    if waiting { cpu.rescheduleRequested.store(true, ordering: .relaxed) } else { keel_yield() }
  case .leave:
    leaveForGood(cpu, v)
  }
}

/// The exit path shared by all traps: leave for good, pause, sleep, switch or resume. A vCPU
/// only ever leaves its host CPU here, at the end of a trap, with its emulation complete.
/// The common case (nothing asks it to) is checked inline.
@inline(__always)
func leaveTrap(_ cpu: PerCPU, _ v: VCPU) {
  if cpu.pendingBlock == nil && !cpu.rescheduleRequested.load(ordering: .acquiring)
      && v.vm.state == .running && !v.vm.paused && v.power == .on {
    flushInterrupts(v)
    return
  }
  leaveTrapSwitching(cpu, v)
}

@inline(never)
func leaveTrapSwitching(_ cpu: PerCPU, _ v: VCPU) {
  let vm = v.vm
  // Taken now: it belongs to this trap of this vCPU, whichever way the trap ends.
  let sleep = cpu.pendingBlock
  cpu.pendingBlock = nil
  if vm.state != .running || v.power != .on { leaveForGood(cpu, v) }
  if vm.paused {
    // Looked at again under the scheduler lock: a `resume` that wakes the VM's vCPUs between
    // the two looks would otherwise leave this one asleep for good.
    Sched.lock.lock()
    if vm.paused { Sched.policy.block(v.id, until: nil, now: keel_read_cntpct_el0()) }
    Sched.lock.unlock()
    reschedule(cpu, v)
  } else if let slack = sleep {
    block(v, on: cpu, slack: slack)
  } else if cpu.rescheduleRequested.load(ordering: .acquiring) {
    reschedule(cpu, v)
  }
  flushInterrupts(v)
}

func handleSynchronous(_ cpu: PerCPU, _ v: VCPU, _ esr: ExceptionSyndrome) -> TrapOutcome {
  // MMIO first and unclassified: the most frequent exit, counted once decoded (by device).
  if esr.exceptionClass == .dataAbortLowerEL { return handleDataAbort(cpu, v, esr) }
  let exit = SynchronousExit(esr)
  v.exits.count(exit)
  switch exit {
  case .dataAbort:
    return handleDataAbort(cpu, v, esr)
  case .hvc(immediate: 0):
    return handleSMCCC(cpu, v)
  case .hvc(immediate: 0x86) where runBackdoor(v):
    return .resume
  case .hvc:
    v.setGPR(0, PSCIStatus.notSupported.register)
    return .resume
  case .smc:
    return handleSMCCC(cpu, v).throughSMC()
  case .systemRegister:
    return handleSystemRegister(cpu, v, esr)
  case .wfe:
    return .yield
  case .wfi:
    return .wait(advance: true, slack: Sched.slack.wfi)
  case .instructionAbort:
    let far = keel_read_far_el2()
    v.vm.reportOnce(0x20 << 56 | far, "vcpu\(v.index): instruction fetch from \(hex(far)) outside guest RAM (pc \(hex(v.pc))); injecting an abort")
    return .inject(.instructionAbort(address: far))
  case .unhandled(let ec):
    v.vm.reportOnce(UInt64(ec.rawValue) << 56, "vcpu\(v.index): unhandled trap EC \(hex(UInt32(ec.rawValue))) at pc \(hex(v.pc)); injecting an undefined instruction")
    return .inject(.undefined)
  }
}

/// WFI (and CPU_SUSPEND): unless an interrupt is already pending, the vCPU sleeps when the trap
/// ends (`leaveTrap` → `block`), for at most its timers' deadlines plus `slack`.
func waitForInterrupt(_ cpu: PerCPU, _ v: VCPU, slack: UInt64) {
  // Bring the vGIC up to date first: an interrupt the guest just completed may have left a
  // new one of the same number latched behind it, and a timer it silenced must not wake it.
  v.vm.devicesLock.lock()
  retractSilencedTimers(v)
  v.vm.devicesLock.unlock()
  flushInterrupts(v)
  if VGIC.hasPendingInListRegisters(inUse: v.listRegistersInUse, Host.gic) { return }
  if v.power != .on { return }
  cpu.pendingBlock = slack
}

/// PSCI and SMCCC (HVC #0, or a trapped SMC: the caller adjusts the outcome for its conduit).
func handleSMCCC(_ cpu: PerCPU, _ v: VCPU) -> TrapOutcome {
  let vm = v.vm
  // Most calls (versions, features, unknown IDs) are answered from their arguments alone:
  // no lock. Calls that act (CPU_ON, CPU_OFF, suspend, off, reset) go the locked way below.
  if !PSCI.consultsPowerStates(v.gpr(0)),
     case .complete(let x0, let x1, let x2, let x3) = PSCI.handle(v.gpr(0), v.gpr(1), v.gpr(2), v.gpr(3), machine: vm) {
    v.setGPR(0, x0); v.setGPR(1, x1); v.setGPR(2, x2); v.setGPR(3, x3)
    return .resume
  }
  vm.lifecycleLock.lock()
  let action = PSCI.handle(v.gpr(0), v.gpr(1), v.gpr(2), v.gpr(3), machine: vm)
  switch action {
  case .complete(let x0, let x1, let x2, let x3):
    vm.lifecycleLock.unlock()
    v.setGPR(0, x0); v.setGPR(1, x1); v.setGPR(2, x2); v.setGPR(3, x3)
    return .resume
  case .cpuOn(let target, let entry, let context):
    let t = vm.vcpus[target]
    t.startEntry = entry
    t.startContext = context
    t.power = .onPending
    vm.lifecycleLock.unlock()
    v.setGPR(0, PSCIStatus.success.register)
    powerOn(t)
    return .resume
  case .cpuOff:
    v.power = .off
    vm.lifecycleLock.unlock()
    return .leave
  case .suspend(let request, let entry, let context):
    vm.lifecycleLock.unlock()
    v.setGPR(0, PSCIStatus.success.register)
    return Sched.slack.suspend(request, entry: entry, context: context)
  case .systemOff:
    vm.lifecycleLock.unlock()
    _ = endRun(vm, .stopping, reason: "poweroff")
    return .leave
  case .systemReset:
    // Three resets within a minute are a reset loop (typically a kernel that panics at boot):
    // the VM stops instead.
    let ended = vm.lifecycle.guestReset(now: keel_read_cntpct_el0(), window: Host.counterHz * 60)
    vm.lifecycleLock.unlock()
    if ended { finishEnding(vm) }
    return .leave
  }
}

// MARK: MMIO

/// A data abort: the access is decoded once and dispatched on the VM's bus; an access nothing
/// owns, or one without a syndrome to emulate it, becomes the guest's data abort.
func handleDataAbort(_ cpu: PerCPU, _ v: VCPU, _ esr: ExceptionSyndrome) -> TrapOutcome {
  let iss = DataAbortISS(esr.iss)
  let far = keel_read_far_el2()
  let ipa = IPA(hpfar: keel_read_hpfar_el2(), far: far)
  let vm = v.vm
  guard let access = MMIOAccess(iss, address: ipa) else {
    let category = vm.devices.bus.category(at: ipa.rawValue)
    v.exits.countDataAbort(category)
    return unhandledAccess(v, ipa, far, iss, emulatable: category == nil)
  }
  let store = access.isWrite ? access.storeValue(fromRegister: v.gpr(access.register)) : 0
  vm.devicesLock.lock()
  // Upper bound first: the UART, the most used device, lies above the GIC.
  if ipa.rawValue < vm.gicWindow.upperBound && ipa.rawValue >= vm.gicWindow.lowerBound {
    // The guest may have acknowledged, completed or silenced interrupts since the last exit.
    vm.devices.interrupts.vgic.syncResident(vcpu: v.index, inUse: v.listRegistersInUse, from: Host.gic)
    retractSilencedTimers(v)
  }
  let result = vm.devices.bus.dispatch(access, storeValue: store, vcpu: v.index)
  let effects = vm.devices.settle()
  vm.devicesLock.unlock()
  guard case .completed(let value, let category) = result else {
    v.exits.countDataAbort(nil)
    return unhandledAccess(v, ipa, far, iss, emulatable: true)
  }
  v.exits.countDataAbort(category)
  if !access.isWrite { v.setGPR(access.register, access.registerValue(afterLoading: value)) }
  vm.apply(effects, from: cpu)
  return .advance
}

func unhandledAccess(_ v: VCPU, _ ipa: IPA, _ far: UInt64, _ iss: DataAbortISS, emulatable: Bool) -> TrapOutcome {
  let why = emulatable ? "access to \(hex(ipa.rawValue)), where the VM has nothing"
                       : "access to \(hex(ipa.rawValue)) the hypervisor cannot emulate (no instruction syndrome)"
  v.vm.reportOnce(0x24 << 56 | ipa.rawValue, "vcpu\(v.index): \(why) (pc \(hex(v.pc))); injecting a data abort")
  return .inject(.dataAbort(address: far, isWrite: iss.isWrite))
}

// MARK: System registers

func handleSystemRegister(_ cpu: PerCPU, _ v: VCPU, _ esr: ExceptionSyndrome) -> TrapOutcome {
  let iss = SystemRegisterISS(esr.iss)
  let reg = iss.encoding
  let vm = v.vm
  if !iss.isRead && (reg == .iccSGI1R || reg == .iccASGI1R || reg == .iccSGI0R) {
    let value = v.gpr(iss.register)
    vm.withDevices(from: cpu) { $0.interrupts.record($0.interrupts.vgic.sendSGI(from: v.index, value: value)) }
    return .advance
  }
  if let outcome = handleDebugRegister(v, iss) ?? handleTrappedTime(v, iss) ?? handleSystemInstruction(v, iss) {
    return outcome
  }
  vm.reportOnce(0x18 << 56 | UInt64(esr.iss), "vcpu\(v.index): \(iss.isRead ? "read of" : "write to") system register \(reg) (pc \(hex(v.pc))); injecting an undefined instruction")
  return .inject(.undefined)
}
#endif

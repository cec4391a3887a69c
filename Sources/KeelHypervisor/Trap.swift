#if os(none)
import CKeelEL2
import Synchronization
import KeelSched
import KeelArch
import KeelDevices
import KeelPSCI
import KeelVGIC
import KeelVM
import KeelTime

/// The single entry from the vectors for every exception taken from a guest.
/// kind: 0 synchronous, 1 IRQ, 2 FIQ, 3 SError.
@_cdecl("keel_trap")
func keelTrap(_ kind: UInt64) {
  let cpu = PerCPU.current()
  guard let v = cpu.vcpu else { hypervisorPanic("trap kind \(kind) with no vCPU loaded on CPU \(cpu.slot)") }
  if !v.vm.reachedUserspace && ProcessorState.exceptionLevel(v.pstate) == 0 { v.vm.noteUserspace() }
  switch kind {
  case 0:
    handleSynchronous(cpu, v, ExceptionSyndrome(rawValue: keel_read_esr_el2()))
  case 1, 2:
    v.exits.irq += 1
    drainHostInterrupts(cpu)
  default:
    v.exits.other += 1
    v.vm.reportOnce(0x5E << 56, "vcpu\(v.index): SError from the guest (ESR \(hex(keel_read_esr_el2()))); injecting an abort")
    v.inject(.dataAbort(address: 0, isWrite: false))
  }
  leaveTrap(cpu, v)
}

/// The exit path shared by all traps: leave for good, pause, sleep, switch or resume. A vCPU
/// only ever leaves its host CPU here, at the end of a trap, with its emulation complete.
func leaveTrap(_ cpu: PerCPU, _ v: VCPU) {
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

func handleSynchronous(_ cpu: PerCPU, _ v: VCPU, _ esr: ExceptionSyndrome) {
  switch esr.exceptionClass {
  case .dataAbortLowerEL:
    handleDataAbort(cpu, v, esr)
  case .hvc64:
    v.exits.hvc += 1
    // ELR already points past the HVC.
    switch esr.iss & 0xFFFF {
    case 0: handleSMCCC(cpu, v)
    case 0x86:
      // The backdoor's EL1 form (HVC #0x86): the PC is already past the call.
      if !runBackdoor(v) { v.setGPR(0, PSCIStatus.notSupported.register) }
    default: v.setGPR(0, PSCIStatus.notSupported.register)
    }
  case .smc64:
    v.exits.smc += 1
    // A trapped SMC returns to the SMC itself; step over it.
    v.pc &+= 4
    handleSMCCC(cpu, v)
  case .systemRegister:
    v.exits.systemRegister += 1
    handleSystemRegister(cpu, v, esr)
  case .waitForInterrupt:
    v.pc &+= esr.instructionLength
    if esr.iss & 1 == 1 {
      // WFE: the guest spins on a lock or an event. With other vCPUs waiting, give way (the
      // one it waits for may be among them); otherwise just let the host CPU breathe.
      v.exits.wfe += 1
      Sched.lock.lock()
      let waiting = Sched.policy.hasWaitingWork()
      Sched.lock.unlock()
      if waiting { cpu.rescheduleRequested.store(true, ordering: .relaxed) } else { keel_yield() }
    } else {
      v.exits.wfi += 1
      waitForInterrupt(cpu, v, slack: Sched.wfiSlack)
    }
  case .instructionAbortLowerEL:
    v.exits.other += 1
    let far = keel_read_far_el2()
    v.vm.reportOnce(0x20 << 56 | far, "vcpu\(v.index): instruction fetch from \(hex(far)) outside guest RAM (pc \(hex(v.pc))); injecting an abort")
    v.inject(.instructionAbort(address: far))
  default:
    v.exits.other += 1
    v.vm.reportOnce(UInt64(esr.exceptionClass.rawValue) << 56, "vcpu\(v.index): unhandled trap EC \(hex(UInt32(esr.exceptionClass.rawValue))) at pc \(hex(v.pc)); injecting an undefined instruction")
    v.inject(.undefined)
  }
}

/// WFI (and CPU_SUSPEND): unless an interrupt is already pending, the vCPU sleeps when the trap
/// ends (`leaveTrap` → `block`), for at most its timers' deadlines plus `slack`.
func waitForInterrupt(_ cpu: PerCPU, _ v: VCPU, slack: UInt64) {
  // Bring the vGIC up to date first: an interrupt the guest just completed may have left a
  // new one of the same number latched behind it.
  flushInterrupts(v)
  let gic = Host.gic!
  for n in 0..<gic.listRegisterCount where v.listRegistersInUse >> UInt64(n) & 1 == 1 {
    let state = gic.readListRegister(n).state
    if state == .pending || state == .pendingActive { return }
  }
  if v.power != .on { return }
  cpu.pendingBlock = slack
}

func handleSMCCC(_ cpu: PerCPU, _ v: VCPU) {
  let vm = v.vm
  vm.lock.lock()
  let action = PSCI.handle(v.gpr(0), v.gpr(1), v.gpr(2), v.gpr(3), machine: vm)
  switch action {
  case .complete(let x0, let x1, let x2, let x3):
    vm.lock.unlock()
    v.setGPR(0, x0); v.setGPR(1, x1); v.setGPR(2, x2); v.setGPR(3, x3)
  case .cpuOn(let target, let entry, let context):
    let t = vm.vcpus[target]
    t.startEntry = entry
    t.startContext = context
    t.power = .onPending
    vm.lock.unlock()
    v.setGPR(0, PSCIStatus.success.register)
    powerOn(t)
  case .cpuOff:
    v.power = .off
    vm.lock.unlock()
  case .suspend(let request, let entry, let context):
    vm.lock.unlock()
    v.setGPR(0, PSCIStatus.success.register)
    if request.isPowerdown {
      // Context was lost: resume at the entry point as if from CPU_ON.
      v.pc = entry
      v.pstate = ProcessorState.el1hMasked
      v.setGPR(0, context)
      keel_write_sctlr_el1(EL1State().sctlr)
    }
    // A deeper state tolerates a later wake-up, which lets the host coalesce timer events.
    waitForInterrupt(cpu, v, slack: request.isPowerdown ? Sched.powerdownSlack : Sched.standbySlack)
  case .systemOff:
    vm.lock.unlock()
    stopVM(vm, reason: "poweroff", by: v, on: cpu)
  case .systemReset:
    vm.lock.unlock()
    resetVM(vm, by: v, on: cpu)
  }
}

/// The guest powered off (PSCI SYSTEM_OFF).
func stopVM(_ vm: VM, reason: String, by v: VCPU, on cpu: PerCPU) -> Never {
  _ = endRun(vm, .stopping, reason: reason)
  leaveForGood(cpu, v)
}

/// A guest's SYSTEM_RESET reboots the VM. Three resets within a minute are a reset loop
/// (typically a kernel that panics at boot): the VM stops instead.
func resetVM(_ vm: VM, by v: VCPU, on cpu: PerCPU) -> Never {
  let now = keel_read_cntpct_el0()
  let minute = keel_read_cntfrq_el0() * 60
  vm.lock.lock()
  vm.resets = vm.resets.filter { now &- $0 < minute } + [now]
  let loop = vm.resets.count >= 3
  vm.rebootReason = "reset by the guest"
  vm.lock.unlock()
  _ = endRun(vm, loop ? .stopping : .resetting, reason: "reset loop")
  leaveForGood(cpu, v)
}

/// Ends the VM's current run: `.stopping` stops it (for `reason`), `.resetting` reboots it. Callable on
/// any CPU, inside a trap of this VM or not: vCPUs off a CPU stop at once, running ones at their
/// next exit (their CPUs are kicked), and the last one out finishes the job (`vcpuLeft`).
/// Returns false if the VM was not running.
func endRun(_ vm: VM, _ next: VMState, reason: String = "") -> Bool {
  vm.lock.lock()
  guard vm.state == .running else { vm.lock.unlock(); return false }
  if next == .stopping { vm.stopReason = reason }
  vm.state = next
  vm.endRunAt = keel_read_cntpct_el0()
  vm.lock.unlock()
  var kicks = CPUMask()
  Sched.lock.lock()
  for v in vm.vcpus {
    if case .running(let host) = Sched.policy.state(of: v.id) { kicks.insert(host) } else { Sched.policy.powerOff(v.id) }
  }
  Sched.lock.unlock()
  for host in kicks { Host.cpus[host.index].kick() }
  vcpuLeft(vm)
  return true
}

/// A vCPU of a stopping or rebooting VM is off its CPU. Once none is on a CPU or about to be
/// (all off in the policy, no hardware state anywhere), its counters are final: report the
/// stop, or reboot.
func vcpuLeft(_ vm: VM) {
  Sched.lock.lock()
  var out = true
  for v in vm.vcpus where Sched.policy.state(of: v.id) != .off || v.resident.load(ordering: .acquiring) >= 0 { out = false }
  Sched.lock.unlock()
  guard out else { return }
  vm.lock.lock()
  let finish = !vm.finished && vm.state != .running
  if finish { vm.finished = true }
  let state = vm.state
  let reason = state == .stopping ? vm.stopReason : vm.rebootReason
  vm.lock.unlock()
  guard finish else { return }
  switch state {
  case .stopping:
    if !vm.consoleLine.isEmpty { Console.guestLine(vm.name, vm.consoleLine + [10]); vm.consoleLine.removeAll() }
    Console.log("\(vm.name): stopped: \(reason)")
    Console.log("\(vm.name): exits \(vm.exitTotals.summary)")
    Console.log("\(vm.name): cpu \(cpuTimeSummary(vm))")
    var running = 0
    for other in Host.vms where other.state == .running || other.state == .resetting { running += 1 }
    if running == 0 {
      Console.log("all VMs stopped; powering off")
      Host.firmware.systemOff()
    }
  case .resetting:
    Console.log("\(vm.name): \(reason); rebooting")
    boot(vm)
  case .running:
    break
  }
}

/// (Re)starts a VM whose vCPUs are all off: guest RAM gets the kernel, initrd and DTB again, the
/// vGIC starts afresh, and vCPU 0 enters at the image's entry.
func boot(_ vm: VM) {
  vm.lock.lock()
  loadBootImage(vm)
  vm.vgic = VGIC(version: vm.gicVersion, affinities: vm.vcpus.map { $0.affinity })
  for c in vm.vcpus {
    c.power = .off
    c.listRegistersInUse = 0
  }
  vm.counterOffset = keel_read_cntpct_el0()
  vm.bootedAt = vm.counterOffset
  if let clock = vm.clock { vm.clock = GuestClock(hostHz: clock.hostHz, guestHz: clock.guestHz, hostNow: vm.counterOffset) }
  vm.paused = false
  vm.vcpus[0].powerOnAtEntry()
  vm.state = .running
  vm.finished = false
  vm.endRunReported = false
  vm.lock.unlock()
  powerOn(vm.vcpus[0])
}

// MARK: MMIO

func handleDataAbort(_ cpu: PerCPU, _ v: VCPU, _ esr: ExceptionSyndrome) {
  let iss = DataAbortISS(esr.iss)
  let far = keel_read_far_el2()
  let ipa = IPA(hpfar: keel_read_hpfar_el2(), far: far)
  let vm = v.vm
  let target = vm.layout.route(ipa, gic: vm.gicVersion == .v3 ? .v3 : .v2, vcpus: vm.vcpus.count)
  switch target {
  case .distributor, .redistributor: v.exits.gicAccess += 1
  case .uart: v.exits.uartAccess += 1
  case .gpio: v.exits.gpioAccess += 1
  case .none: v.exits.faults += 1
  }
  guard target != .none, let access = MMIOAccess(iss, address: ipa) else {
    let why = target == .none ? "access to \(hex(ipa.rawValue)), where the VM has nothing"
                              : "access to \(hex(ipa.rawValue)) the hypervisor cannot emulate (no instruction syndrome)"
    vm.reportOnce(0x24 << 56 | ipa.rawValue, "vcpu\(v.index): \(why) (pc \(hex(v.pc))); injecting a data abort")
    v.inject(.dataAbort(address: far, isWrite: iss.isWrite))
    return
  }
  let value = access.isWrite ? access.storeValue(fromRegister: v.gpr(access.register)) : 0
  var result: UInt64 = 0
  var effects = VGICEffects()
  vm.lock.lock()
  switch target {
  case .distributor(let offset):
    if access.isWrite { effects = vm.vgic.distributorWrite(offset: offset, size: access.size, value: value, vcpu: v.index) }
    else { result = vm.vgic.distributorRead(offset: offset, size: access.size, vcpu: v.index) }
  case .redistributor(let offset):
    if access.isWrite { effects = vm.vgic.redistributorWrite(offset: offset, size: access.size, value: value, vcpu: v.index) }
    else { result = vm.vgic.redistributorRead(offset: offset, size: access.size, vcpu: v.index) }
  case .uart(let offset):
    // Byte and halfword accesses (earlycon writes DR with strb) reach the 32-bit register.
    let aligned = offset & ~3
    if access.isWrite { vm.uart.write(UInt32(truncatingIfNeeded: value << UInt64(8 * (offset & 3))), at: aligned) }
    else { result = UInt64(vm.uart.read(at: aligned)) >> UInt64(8 * (offset & 3)) }
  case .gpio(let offset):
    let aligned = offset & ~3
    if access.isWrite { vm.gpio.write(UInt32(truncatingIfNeeded: value << UInt64(8 * (offset & 3))), at: aligned) }
    else {
      result = UInt64(vm.gpio.read(at: aligned)) >> UInt64(8 * (offset & 3))
      // A read of the data register whose address mask covers the button line: the guest saw the press.
      if vm.powerButtonHeld && aligned < 0x400 && (aligned >> 2) >> UInt16(PL061<VGICLine>.powerButtonLine) & 1 == 1 {
        vm.gpio.releasePowerButton()
        vm.powerButtonHeld = false
      }
    }
  case .none:
    break
  }
  effects.kick |= vm.pendingKicks
  vm.pendingKicks = 0
  vm.lock.unlock()
  if !access.isWrite { v.setGPR(access.register, access.registerValue(afterLoading: result)) }
  if effects.deactivateHardware != 0 {
    for i in 0..<32 where effects.deactivateHardware >> UInt32(i) & 1 == 1 { Host.gic.deactivate(UInt32(i)) }
  }
  deliver(vm, effects.kick, from: cpu)
  if case .uart(let offset) = target, !access.isWrite, offset & ~3 == 0, vm.id == Host.focus {
    // The guest took bytes from its receive FIFO: pass on any queued console input.
    resumeConsoleInput()
  }
  v.pc &+= esr.instructionLength
}

// MARK: System registers

func handleSystemRegister(_ cpu: PerCPU, _ v: VCPU, _ esr: ExceptionSyndrome) {
  let iss = SystemRegisterISS(esr.iss)
  let reg = iss.encoding
  let vm = v.vm
  if !iss.isRead && (reg == .iccSGI1R || reg == .iccASGI1R || reg == .iccSGI0R) {
    vm.lock.lock()
    let effects = vm.vgic.sendSGI(from: v.index, value: v.gpr(iss.register))
    vm.lock.unlock()
    deliver(vm, effects.kick, from: cpu)
    v.pc &+= esr.instructionLength
    return
  }
  let pcBefore = v.pc
  if handleDebugRegister(v, iss) || handleTrappedTime(v, iss) || handleSystemInstruction(v, iss) {
    // Emulated: step over the MSR/MRS, unless an exception was injected instead.
    if v.pc == pcBefore { v.pc &+= esr.instructionLength }
    return
  }
  vm.reportOnce(0x18 << 56 | UInt64(esr.iss), "vcpu\(v.index): \(iss.isRead ? "read of" : "write to") system register \(reg) (pc \(hex(v.pc))); injecting an undefined instruction")
  v.inject(.undefined)
}
#endif

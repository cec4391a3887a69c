#if os(none)
import CKeelEL2
import KeelArch
import KeelPSCI
import KeelVM
import KeelLoader
import KeelTime
import KeelSched
import Synchronization

/// The EL1 system-register state of a vCPU: what must be saved and restored when a host CPU
/// switches between vCPUs. GPRs, PC, PSTATE and FP/SIMD live in `keel_vcpu_context`.
struct EL1State {
  var sctlr: UInt64 = 0x30D0_0800   // architectural reset value: MMU and caches off
  var tcr: UInt64 = 0, ttbr0: UInt64 = 0, ttbr1: UInt64 = 0, mair: UInt64 = 0, amair: UInt64 = 0
  var vbar: UInt64 = 0, contextidr: UInt64 = 0
  var tpidrEL0: UInt64 = 0, tpidrroEL0: UInt64 = 0, tpidrEL1: UInt64 = 0
  var spEL0: UInt64 = 0, spEL1: UInt64 = 0, elr: UInt64 = 0, spsr: UInt64 = 0
  var esr: UInt64 = 0, far: UInt64 = 0, afsr0: UInt64 = 0, afsr1: UInt64 = 0, par: UInt64 = 0
  var cpacr: UInt64 = 0, cntkctl: UInt64 = 0, cntvCtl: UInt64 = 0, cntvCval: UInt64 = 0
  var csselr: UInt64 = 0, mdscr: UInt64 = 0
  /// The EL1 physical timer in pass-through time mode (in trapped mode Keel programs it from
  /// `VCPU.physicalTimer`).
  var cntpCtl: UInt64 = 0, cntpCval: UInt64 = 0

  func load() {
    keel_write_sctlr_el1(sctlr); keel_write_tcr_el1(tcr); keel_write_ttbr0_el1(ttbr0); keel_write_ttbr1_el1(ttbr1)
    keel_write_mair_el1(mair); keel_write_amair_el1(amair); keel_write_vbar_el1(vbar)
    keel_write_contextidr_el1(contextidr); keel_write_tpidr_el0(tpidrEL0); keel_write_tpidrro_el0(tpidrroEL0)
    keel_write_tpidr_el1(tpidrEL1); keel_write_sp_el0(spEL0); keel_write_sp_el1(spEL1)
    keel_write_elr_el1(elr); keel_write_spsr_el1(spsr); keel_write_esr_el1(esr); keel_write_far_el1(far)
    keel_write_afsr0_el1(afsr0); keel_write_afsr1_el1(afsr1); keel_write_par_el1(par)
    keel_write_cpacr_el1(cpacr); keel_write_cntkctl_el1(cntkctl); keel_write_cntv_cval_el0(cntvCval)
    keel_write_cntv_ctl_el0(cntvCtl); keel_write_csselr_el1(csselr); keel_write_mdscr_el1(mdscr)
    keel_isb()
  }

  mutating func save() {
    sctlr = keel_read_sctlr_el1(); tcr = keel_read_tcr_el1(); ttbr0 = keel_read_ttbr0_el1(); ttbr1 = keel_read_ttbr1_el1()
    mair = keel_read_mair_el1(); amair = keel_read_amair_el1(); vbar = keel_read_vbar_el1()
    contextidr = keel_read_contextidr_el1(); tpidrEL0 = keel_read_tpidr_el0(); tpidrroEL0 = keel_read_tpidrro_el0()
    tpidrEL1 = keel_read_tpidr_el1(); spEL0 = keel_read_sp_el0(); spEL1 = keel_read_sp_el1()
    elr = keel_read_elr_el1(); spsr = keel_read_spsr_el1(); esr = keel_read_esr_el1(); far = keel_read_far_el1()
    afsr0 = keel_read_afsr0_el1(); afsr1 = keel_read_afsr1_el1(); par = keel_read_par_el1()
    cpacr = keel_read_cpacr_el1(); cntkctl = keel_read_cntkctl_el1(); cntvCval = keel_read_cntv_cval_el0()
    cntvCtl = keel_read_cntv_ctl_el0(); csselr = keel_read_csselr_el1(); mdscr = keel_read_mdscr_el1()
  }
}

/// One virtual CPU. It runs on whichever host CPU the scheduler gives it (Scheduling.swift).
final class VCPU {
  let index: Int
  let affinity: Affinity
  /// Strong on purpose, though the VM holds its vCPUs: a `let` of a borrowed object is read
  /// without a reference-count update, an `unowned` one is copied on every use, and the trap
  /// path reads it on every exit. VMs live as long as the host (`Host.vms`).
  let vm: VM
  let context: UnsafeMutablePointer<keel_vcpu_context>
  var el1 = EL1State()
  /// Power state as PSCI reports it; written under the VM lock.
  var power: VCPUPowerState = .off
  var startEntry: UInt64 = 0
  var startContext: UInt64 = 0
  /// List registers holding an interrupt this vCPU owns (bit n = LR n).
  var listRegistersInUse: UInt64 = 0
  var exits = ExitCounters()
  /// The guest's MDSCR_EL1 (the hardware copy runs with TDCC clear; Debug.swift).
  var mdscrShadow: UInt64 = 0
  var debugShadow = ShadowRegisters()
  /// The guest's physical timer in trapped-time mode (Time.swift).
  var physicalTimer = GuestTimer()
  /// Its identity in the scheduler.
  var id = VCPUID(0)
  /// Host CPU slot holding its hardware state, -1 while that state is saved here.
  let resident = Atomic<Int>(-1)
  /// Host count when it last got a CPU (or was last charged).
  var stintStart: UInt64 = 0
  /// What `save` keeps while it is off a CPU: the virtual CPU interface, and which of its
  /// hardware-linked timer interrupts were active.
  var gicState = VirtualInterfaceState()
  var timerActive: UInt32 = 0
  var pmu = PMUState(eventCounters: Host.guestEventCounters)
  var debug = DebugRegisterFile(idAA64DFR0: keel_read_id_aa64dfr0_el1())

  init(index: Int, vm: VM) {
    self.index = index
    self.affinity = Affinity(aff0: UInt8(index))
    self.vm = vm
    context = UnsafeMutablePointer<keel_vcpu_context>.allocate(capacity: 1)
    context.initialize(to: keel_vcpu_context())
  }

  // Guest GPRs. Register 31 is XZR in every encoding that reaches these.
  @inline(__always)
  func gpr(_ n: Int) -> UInt64 {
    guard n < 31 else { return 0 }
    return UnsafeMutableRawPointer(context).load(fromByteOffset: n * 8, as: UInt64.self)
  }
  @inline(__always)
  func setGPR(_ n: Int, _ v: UInt64) {
    guard n < 31 else { return }
    UnsafeMutableRawPointer(context).storeBytes(of: v, toByteOffset: n * 8, as: UInt64.self)
  }
  var pc: UInt64 {
    get { context.pointee.elr }
    set { context.pointee.elr = newValue }
  }
  var pstate: UInt64 {
    get { context.pointee.spsr }
    set { context.pointee.spsr = newValue }
  }

  /// Architected entry state: EL1h, MMU off, interrupts masked, x0 = `x0`, everything else zero.
  func reset(entry: UInt64, x0: UInt64) {
    context.initialize(to: keel_vcpu_context())
    setGPR(0, x0)
    pc = entry
    pstate = ProcessorState.el1hMasked
    el1 = EL1State()
    listRegistersInUse = 0
    gicState = VirtualInterfaceState()
    timerActive = 0
    mdscrShadow = 0
    debugShadow = ShadowRegisters()
    physicalTimer = GuestTimer()
    pmu = PMUState(eventCounters: Host.guestEventCounters)
    debug = DebugRegisterFile(idAA64DFR0: keel_read_id_aa64dfr0_el1())
  }

  /// vCPU 0 at (re)boot: starts at the image's entry with x0 = the DTB.
  func powerOnAtEntry() {
    guard let image = vm.bootImage else { return }
    startEntry = image.plan.entry
    startContext = image.layout.dtbAddress
    power = .onPending
  }

  /// Make the guest take `exception` at its next instruction.
  func inject(_ exception: GuestException) {
    let entry = ExceptionEntry(exception, pc: pc, pstate: pstate, vbar: keel_read_vbar_el1())
    keel_write_elr_el1(entry.elrEL1)
    keel_write_spsr_el1(entry.spsrEL1)
    keel_write_esr_el1(entry.esrEL1)
    if let far = entry.farEL1 { keel_write_far_el1(far) }
    pc = entry.pc
    pstate = entry.pstate
  }
}
#endif

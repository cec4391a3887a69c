#if os(none)
import CKeelEL2
import KeelSched
import Synchronization

/// State private to one host CPU.
///
/// Rule: only `PerCPU.withCurrent` reads TPIDR_EL2, and only the trap entry and the CPU's own
/// start-up code call it. Everything below takes the `PerCPU` (or the `VCPU`) as a parameter,
/// so no code can reach another CPU's data by accident, and code that is interrupted on one
/// CPU and continues on another never holds a stale "current CPU".
final class PerCPU {
  let slot: Int
  let mpidr: UInt64
  let raw: UnsafeMutablePointer<keel_percpu>
  /// The vCPU loaded on this host CPU right now (its registers are what the vectors save).
  private(set) var vcpu: VCPU? = nil
  /// The same, for the trap path to borrow without touching its reference count.
  private(set) var loaded: Unmanaged<VCPU>? = nil
  /// Idle context: where the vectors would save state if an exception hit with no vCPU loaded.
  let idleContext: UnsafeMutablePointer<keel_vcpu_context>
  var cpuInterfaceMask: UInt8 = 0
  /// Another CPU asks this one to consult the scheduler (Scheduling.swift).
  let rescheduleRequested = Atomic<Bool>(false)
  /// Set by a WFI or CPU_SUSPEND trap: the vCPU sleeps when the trap ends, with this slack.
  var pendingBlock: UInt64? = nil
  /// Per VM id: the vCPU index that ran here last (-1: none), for local TLB maintenance.
  var lastVCPU = [Int](repeating: -1, count: 256)
  var id: HostCPUID { HostCPUID(slot) }

  init(slot: Int, mpidr: UInt64, stackTop: UInt64) {
    self.slot = slot
    self.mpidr = mpidr
    raw = UnsafeMutablePointer<keel_percpu>.allocate(capacity: 1)
    idleContext = UnsafeMutablePointer<keel_vcpu_context>.allocate(capacity: 1)
    idleContext.initialize(to: keel_vcpu_context())
    raw.initialize(to: keel_percpu(context: idleContext, index: UInt64(slot), owner: nil, stack_top: stackTop))
    raw.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
  }

  /// Install this object as the calling CPU's per-CPU data. Called once, on the CPU itself.
  func install() { keel_write_tpidr_el2(UInt64(UInt(bitPattern: raw))) }

  /// The calling CPU's data, borrowed for `body`. Every exit starts here: a reference that is
  /// borrowed rather than copied costs no atomic reference-count update (docs/design.md).
  @inline(__always)
  static func withCurrent<R>(_ body: (PerCPU) -> R) -> R {
    Unmanaged<PerCPU>.fromOpaque(currentRaw().pointee.owner!)._withUnsafeGuaranteedRef(body)
  }

  @inline(__always)
  private static func currentRaw() -> UnsafeMutablePointer<keel_percpu> {
    UnsafeMutablePointer<keel_percpu>(bitPattern: UInt(keel_read_tpidr_el2()))!
  }

  /// Interrupt this CPU (SGI 0): it leaves its guest or its WFI and looks at what changed.
  func kick() { Host.gic.sendKick(toMPIDR: mpidr, cpuMask: cpuInterfaceMask) }

  func load(_ v: VCPU) {
    vcpu = v
    loaded = Unmanaged.passUnretained(v)
    raw.pointee.context = v.context
  }

  func unload() {
    vcpu = nil
    loaded = nil
    raw.pointee.context = idleContext
  }
}
#endif

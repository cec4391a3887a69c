#if os(none)
import CKeelEL2
import KeelVM

/// Moving a vCPU's PMU state on and off its host CPU (KeelVM's `PMUState` says when).
extension PMUState {
  /// Called as the vCPU leaves this CPU. Once it has used the PMU, its state is kept and the
  /// CPU's PMU is left idle, so the next vCPU sees nothing of it.
  mutating func save() {
    guard Host.pmuINTID != nil else { return }
    let control = keel_read_pmcr_el0(), enabled = keel_read_pmcntenset_el0()
    let interrupts = keel_read_pmintenset_el1(), overflow = keel_read_pmovsset_el0()
    if !touched && !Self.inUse(control: control, counterEnable: enabled, interruptEnable: interrupts, overflow: overflow) { return }
    touched = true
    self.control = control & Self.controlMask
    counterEnable = enabled
    interruptEnable = interrupts
    self.overflow = overflow
    select = keel_read_pmselr_el0()
    userEnable = keel_read_pmuserenr_el0()
    cycleCount = keel_read_pmccntr_el0()
    cycleFilter = keel_read_pmccfiltr_el0()
    for n in 0..<eventCounters {
      keel_write_pmselr_el0(UInt64(n))
      keel_isb()
      eventTypes[n] = keel_read_pmxevtyper_el0()
      eventCounts[n] = keel_read_pmxevcntr_el0()
    }
    Self.quiesce(eventCounters: eventCounters)
  }

  /// Called as the vCPU comes onto this CPU, whose PMU is idle.
  func load() {
    guard touched else { return }
    for n in 0..<eventCounters {
      keel_write_pmselr_el0(UInt64(n))
      keel_isb()
      keel_write_pmxevtyper_el0(eventTypes[n])
      keel_write_pmxevcntr_el0(eventCounts[n])
    }
    keel_write_pmselr_el0(select)
    keel_write_pmuserenr_el0(userEnable)
    keel_write_pmccfiltr_el0(cycleFilter)
    keel_write_pmccntr_el0(cycleCount)
    keel_write_pmovsset_el0(overflow)
    keel_write_pmintenset_el1(interruptEnable)
    keel_write_pmcntenset_el0(counterEnable)
    keel_write_pmcr_el0(control)
    keel_isb()
  }

  /// Every counter stopped, zeroed and unable to interrupt: how a CPU's PMU waits between vCPUs.
  static func quiesce(eventCounters: Int) {
    keel_write_pmcr_el0(0b110)                // P and C: event and cycle counters to zero
    keel_write_pmcntenclr_el0(~0)
    keel_write_pmintenclr_el1(~0)
    keel_write_pmovsclr_el0(~0)
    for n in 0..<eventCounters {
      keel_write_pmselr_el0(UInt64(n))
      keel_isb()
      keel_write_pmxevtyper_el0(0)
    }
    keel_write_pmselr_el0(0)
    keel_write_pmuserenr_el0(0)
    keel_write_pmccfiltr_el0(0)
    keel_isb()
  }
}
#endif

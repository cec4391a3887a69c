import Testing
import KeelVM

@Suite struct PMUStateTests {
  @Test func sizedByTheEventCountersTheVCPUHas() {
    let pmu = PMUState(eventCounters: 6)
    #expect(pmu.eventCounters == 6 && pmu.eventCounts == [0, 0, 0, 0, 0, 0])
    #expect(!pmu.touched)
  }

  @Test func inUseWhenCountingInterruptingOrOverflowed() {
    #expect(!PMUState.inUse(control: 0x4100_3000, counterEnable: 0, interruptEnable: 0, overflow: 0), "PMCR.N alone is not use")
    #expect(PMUState.inUse(control: 1, counterEnable: 0, interruptEnable: 0, overflow: 0))
    #expect(PMUState.inUse(control: 0, counterEnable: 1 << 31, interruptEnable: 0, overflow: 0))
    #expect(PMUState.inUse(control: 0, counterEnable: 0, interruptEnable: 2, overflow: 0))
    #expect(PMUState.inUse(control: 0, counterEnable: 0, interruptEnable: 0, overflow: 1))
  }

  /// P and C (bits 1 and 2) reset counters when written: never part of the saved state.
  @Test func controlMaskKeepsStateBitsOnly() {
    #expect(PMUState.controlMask & 0b110 == 0)
    #expect(PMUState.controlMask & 1 == 1 && PMUState.controlMask >> 6 & 1 == 1 && PMUState.controlMask >> 7 & 1 == 1)
  }
}

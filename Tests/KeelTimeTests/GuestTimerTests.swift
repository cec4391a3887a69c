import Testing
import KeelTime

@Test func timerValueIsSignedThirtyTwoBit() {
  var timer = GuestTimer()
  let now: UInt64 = 1_000_000
  timer.writeTimerValue(0xFFFF_FFFF_FFFF_FF9C, guestNow: now)   // TVAL = -100; upper bits ignored
  #expect(timer.readCompareValue() == now - 100)
  #expect(timer.readTimerValue(guestNow: now) == 0xFFFF_FF9C)
  timer.writeTimerValue(0x7FFF_FFFF, guestNow: now)
  #expect(timer.compareValue == now + 0x7FFF_FFFF)
  timer.writeTimerValue(0x8000_0000, guestNow: now)
  #expect(timer.compareValue == now &- 0x8000_0000)
  timer.writeCompareValue(now + (1 << 40) + 5)
  #expect(timer.readTimerValue(guestNow: now) == 5)   // only bits [31:0] of CVAL - count
}

@Test func controlReportsStatusOnlyWhenEnabled() {
  var timer = GuestTimer(compareValue: 500)
  #expect(timer.readControl(guestNow: 1_000) == 0)
  timer.writeControl(0xFFFF)          // ISTATUS and reserved bits are not writable
  #expect(timer.control == [.enabled, .interruptMasked])
  #expect(timer.readControl(guestNow: 1_000) == 0b111)
  #expect(timer.readControl(guestNow: 499) == 0b011)
  #expect(!timer.isInterruptAsserted(guestNow: 1_000))
  timer.writeControl(1)
  #expect(timer.isInterruptAsserted(guestNow: 500))
  #expect(!timer.isInterruptAsserted(guestNow: 499))
}

@Test func hostDeadlineNeverFiresEarly() {
  let clock = GuestClock(hostHz: 24_000_000, guestHz: 1_000_000_000, hostNow: 777)
  var timer = GuestTimer(control: .enabled)
  for tval in [UInt64(1), 41, 42, 1_000, 123_456_789] {
    timer.writeTimerValue(tval, guestNow: clock.guestCount(atHost: 10_000))
    let deadline = timer.hostDeadline(on: clock) ?? 0
    #expect(timer.isConditionMet(guestNow: clock.guestCount(atHost: deadline)))
    #expect(!timer.isConditionMet(guestNow: clock.guestCount(atHost: deadline - 1)))
  }
  timer.writeControl(TimerControl([.enabled, .interruptMasked]).rawValue)
  #expect(timer.hostDeadline(on: clock) == nil)
  var paused = clock
  paused.pause(atHost: 10_000)
  timer.writeControl(1)
  #expect(timer.hostDeadline(on: paused) == nil)
}

@Suite struct TimerControlLineTests {
  @Test func lineFollowsEnableMaskAndStatus() {
    #expect(TimerControl.asserted(0b101))
    #expect(!TimerControl.asserted(0b100), "disabled: ISTATUS is stale, the line is low")
    #expect(!TimerControl.asserted(0b111), "masked")
    #expect(!TimerControl.asserted(0b001), "condition not met")
    #expect(TimerControl.armed(0b001) && TimerControl.armed(0b101))
    #expect(!TimerControl.armed(0b011) && !TimerControl.armed(0b000))
  }
}

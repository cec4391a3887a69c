import Testing
import KeelPSCI
import KeelVM

@Suite struct SleepSlackTests {
  @Test func deeperSleepsTolerateLaterWakeUps() {
    let slack = SleepSlack(ticksPerSecond: 62_500_000)
    #expect(slack.wfi == 3_125)           // 50 µs
    #expect(slack.standby == 31_250)      // 500 µs
    #expect(slack.powerdown == 312_500)   // 5 ms
  }

  @Test func suspendOutcomes() {
    let slack = SleepSlack(ticksPerSecond: 1_000_000)
    #expect(slack.suspend(SuspendRequest(0), entry: 0x4000_0000, context: 7) == .wait(advance: false, slack: 500))
    #expect(slack.suspend(SuspendRequest(1 << 16), entry: 0x4000_0000, context: 7)
      == .suspendPowerdown(entry: 0x4000_0000, context: 7, slack: 5_000))
  }
}

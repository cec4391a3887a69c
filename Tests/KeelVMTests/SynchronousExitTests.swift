import Testing
import KeelArch
import KeelVM

@Suite struct SynchronousExitTests {
  func esr(_ ec: UInt64, iss: UInt64 = 0) -> ExceptionSyndrome { ExceptionSyndrome(rawValue: ec << 26 | 1 << 25 | iss) }

  @Test func exitsByExceptionClass() {
    #expect(SynchronousExit(esr(0x24, iss: 0x93_0000)) == .dataAbort)
    #expect(SynchronousExit(esr(0x16, iss: 0x86)) == .hvc(immediate: 0x86))
    #expect(SynchronousExit(esr(0x16, iss: 0x1_0000)) == .hvc(immediate: 0))
    #expect(SynchronousExit(esr(0x17)) == .smc)
    #expect(SynchronousExit(esr(0x18, iss: 0x30_0000)) == .systemRegister)
    #expect(SynchronousExit(esr(0x01, iss: 0)) == .wfi)
    #expect(SynchronousExit(esr(0x01, iss: 1)) == .wfe)
    #expect(SynchronousExit(esr(0x20)) == .instructionAbort)
    // Same-EL aborts and everything else Keel does not emulate.
    #expect(SynchronousExit(esr(0x25)) == .unhandled(.dataAbortSameEL))
    #expect(SynchronousExit(esr(0x3C)) == .unhandled(.brk64))
  }

  @Test func countedByKindButDataAbortsLater() {
    var counters = ExitCounters()
    for exit: SynchronousExit in [.dataAbort, .hvc(immediate: 0), .smc, .systemRegister, .wfi, .wfe, .wfe,
                                  .instructionAbort, .unhandled(.unknown)] {
      counters.count(exit)
    }
    #expect(counters.dataAbort == 0)
    #expect(counters.hvc == 1 && counters.smc == 1 && counters.systemRegister == 1)
    #expect(counters.wfi == 1 && counters.wfe == 2 && counters.other == 2)
    #expect(counters.total == 8)
  }
}

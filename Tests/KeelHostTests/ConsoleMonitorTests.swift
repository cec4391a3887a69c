import Testing
@testable import KeelHost

@Suite struct ConsoleMonitorTests {
  func monitor(_ text: String, mode: ConsoleMonitor.Mode = .keel) -> ConsoleMonitor {
    var m = ConsoleMonitor(mode: mode)
    _ = m.feed(Array(text.utf8))
    _ = m.finish()
    return m
  }

  @Test func poweroffSucceeds() {
    let m = monitor("keel: hello\r\nguest line\r\nkeel: vm0: exits total=10 hvc=4 dabt=6\nkeel: vm0: stopped: poweroff\n")
    #expect(m.stop == .poweroff)
    #expect(m.exitCounts == "exits total=10 hvc=4 dabt=6")
    #expect(m.verdict(.exited(0)) == RunVerdict(exitCode: 0, reason: nil))
    // The stop line decides, even if QEMU had to be killed afterwards.
    #expect(m.verdict(.signaled(9)).exitCode == 0)
  }

  @Test func resetAfterKernelPanicIsAGuestPanic() {
    let text = """
      [    2.1] sysrq: Trigger a crash\r
      [    2.2] Kernel panic - not syncing: sysrq triggered crash\r
      [    2.3] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---\r
      keel: vm0: stopped: reset\r

      """
    let m = monitor(text)
    #expect(m.kernelPanic == "sysrq triggered crash")
    let verdict = m.verdict(.exited(0))
    #expect(verdict.exitCode != 0)
    #expect(verdict.reason == "guest panic: sysrq triggered crash")
  }

  @Test func resetLoop() {
    let plain = monitor("keel: vm0: reset by the guest; rebooting (1 in the last minute)\nkeel: vm0: stopped: reset loop\n")
    #expect(plain.stop == .resetLoop)
    #expect(plain.verdict(.exited(0)).reason == "guest reset loop")
    let panicked = monitor("[ 2.2] Kernel panic - not syncing: Attempted to kill init!\r\nkeel: vm0: stopped: reset loop\n")
    #expect(panicked.verdict(.exited(0)).reason == "guest panic: Attempted to kill init! (reset loop)")
    #expect(panicked.verdict(.exited(0)).exitCode != 0)
  }

  @Test func plainResetIsAGuestReset() {
    let verdict = monitor("keel: vm0: stopped: reset\n").verdict(.exited(0))
    #expect(verdict.exitCode != 0)
    #expect(verdict.reason == "guest reset")
  }

  @Test func onlyTheEndBannerStillNamesThePanic() {
    let m = monitor("---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100 ]---\nkeel: vm0: stopped: reset\n")
    #expect(m.verdict(.exited(0)).reason == "guest panic: Attempted to kill init! exitcode=0x00000100")
  }

  @Test func faultAndHypervisorPanic() {
    #expect(monitor("keel: vm0: stopped: fault unhandled EC 0x3f at 0x40080000\n").verdict(.exited(0)).reason
      == "guest fault: unhandled EC 0x3f at 0x40080000")
    let panic = monitor("keel: PANIC stage-2 table exhausted\n").verdict(.signaled(9))
    #expect(panic.reason == "hypervisor fault: stage-2 table exhausted")
    #expect(panic.exitCode != 0)
    #expect(monitor("keel: PANIC x\n").isFinished)
  }

  @Test func hypervisorLinesMustStartAtColumnZero() {
    let m = monitor("guest says keel: vm0: stopped: poweroff\n echo keel: PANIC no\n")
    #expect(m.stop == nil)
    #expect(m.hypervisorPanic == nil)
    #expect(m.verdict(.exited(0)).exitCode != 0)
  }

  @Test func guestCannotForgeStopInBareMode() {
    let m = monitor("keel: vm0: stopped: poweroff\n", mode: .bare)
    #expect(m.stop == nil)
  }

  @Test func timeoutAndQEMUFailures() {
    let m = monitor("booting\n")
    #expect(m.verdict(.timedOut(seconds: 30)) == RunVerdict(exitCode: RunVerdict.timeout, reason: "timeout after 30 s"))
    #expect(m.verdict(.exited(1)).reason == "qemu-system-aarch64 exited with status 1")
    #expect(m.verdict(.signaled(11)).reason == "qemu-system-aarch64 killed by signal 11")
    #expect(m.verdict(.exited(0)).exitCode != 0)  // Keel mode: QEMU ended without a stop report.
  }

  @Test func bareModeUsesQEMUStatusAndPanicText() {
    #expect(monitor("[ 1.0] reboot: Power down\n", mode: .bare).verdict(.exited(0)) == RunVerdict(exitCode: 0, reason: nil))
    let panicked = monitor("Kernel panic - not syncing: boom\n", mode: .bare).verdict(.exited(0))
    #expect(panicked.exitCode != 0 && panicked.reason == "guest panic: boom")
    #expect(monitor("", mode: .bare).verdict(.exited(1)).exitCode != 0)
  }

  @Test func chunkBoundariesDoNotMatter() {
    let text = Array("keel: starting\r\nLinux version 6.1\r\nKernel panic - not syncing: x\r\nkeel: vm0: exits total=3 irq=3\r\nkeel: vm0: stopped: reset\r\n".utf8)
    let whole = monitor(String(decoding: text, as: UTF8.self))
    for split in 0...text.count {
      var m = ConsoleMonitor(mode: .keel)
      var events = m.feed(text[..<split])
      events += m.feed(text[split...])
      #expect(m.stop == whole.stop)
      #expect(m.kernelPanic == whole.kernelPanic)
      #expect(m.exitCounts == whole.exitCounts)
      #expect(events.filter { if case .guestOutputBegins = $0 { return true }; return false }.count == 1)
    }
  }

  @Test func bannerGoesBeforeTheFirstGuestLine() {
    var m = ConsoleMonitor(mode: .keel)
    let chunk = Array("keel: booting vm0\r\nkernel message\r\n".utf8)
    let events = m.feed(chunk)
    let offset = events.compactMap { if case .guestOutputBegins(let o) = $0 { return o }; return nil }.first
    #expect(offset == Array("keel: booting vm0\r\n".utf8).count)
    // Only once.
    #expect(m.feed(Array("more\n".utf8)).isEmpty)
  }

  @Test func blankLinesAreNotGuestOutput() {
    var m = ConsoleMonitor(mode: .keel)
    #expect(m.feed(Array("\r\n\n".utf8)).isEmpty)
    #expect(!m.guestOutputSeen)
  }

  @Test func unknownStopReasonFails() {
    let m = monitor("keel: vm1: stopped: halted by cosmic ray\n")
    #expect(m.stop == .other("halted by cosmic ray"))
    #expect(m.verdict(.exited(0)).exitCode != 0)
  }

  func monitor(_ text: String, vms: [String]) -> ConsoleMonitor {
    var m = ConsoleMonitor(mode: .keel, vmNames: vms)
    _ = m.feed(Array(text.utf8))
    _ = m.finish()
    return m
  }

  @Test func severalVMsSucceedOnlyWhenAllPowerOff() {
    let one = monitor("keel: web: stopped: poweroff\n", vms: ["web", "db"])
    #expect(!one.isFinished)
    #expect(one.runningVMs == ["db"])
    #expect(one.verdict(.timedOut(seconds: 5)).exitCode == RunVerdict.timeout)
    #expect(one.verdict(.exited(0)).reason == "qemu-system-aarch64 exited before every VM stopped (still running: db)")
    let both = monitor("keel: web: stopped: poweroff\nkeel: db: stopped: poweroff\n", vms: ["web", "db"])
    #expect(both.isFinished)
    #expect(both.verdict(.exited(0)) == RunVerdict(exitCode: 0, reason: nil))
  }

  @Test func indexAliasesNameTheVM() {
    let m = monitor("keel: vm1: stopped: poweroff\nkeel: vm0: stopped: poweroff\n", vms: ["web", "db"])
    #expect(m.stops == ["web": .poweroff, "db": .poweroff])
    #expect(m.verdict(.exited(0)).exitCode == 0)
  }

  @Test func oneFailingVMFailsTheRunAndIsNamed() {
    let m = monitor("keel: db: stopped: fault bad EC\nkeel: web: stopped: poweroff\n", vms: ["web", "db"])
    #expect(m.isFinished)
    #expect(m.verdict(.exited(0)) == RunVerdict(exitCode: RunVerdict.guestFailure, reason: "db: guest fault: bad EC"))
    // Without waiting for the others.
    let early = monitor("keel: db: stopped: reset\n", vms: ["web", "db"])
    #expect(early.verdict(.timedOut(seconds: 1)).reason == "db: guest reset")
  }

  @Test func managementRepliesAreNotStops() {
    let m = monitor("keel: mgmt: ok stopped: poweroff\nkeel: mgmt: error x\n", vms: ["vm0"])
    #expect(m.stop == nil)
  }
}

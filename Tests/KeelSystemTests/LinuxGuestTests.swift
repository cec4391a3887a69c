import Foundation
import Testing


extension SystemTests {
  /// Boots the default Linux guest (Debian's arm64 kernel, Keel's initramfs) under Keel.
  @Suite struct LinuxGuestTests {
    static let smokeConfigurations: [(gic: Int, cpus: Int)] = [(3, 1), (3, 2), (2, 1), (2, 2)]

    @Test("Linux smoke boot under Keel", .timeLimit(.minutes(15)), arguments: smokeConfigurations)
    func smoke(_ configuration: (gic: Int, cpus: Int)) throws {
      let run = try KeelHarness.keelRun([
        "--gic", String(configuration.gic), "--cpus", String(configuration.cpus), "--append", "keel.test=smoke",
      ])
      try expectSmokeSucceeded(run, cpus: configuration.cpus)
    }

    @Test("a guest that panics is rebooted, then stopped as a reset loop and reported as a guest panic", .timeLimit(.minutes(15)))
    func panic() throws {
      let run = try KeelHarness.keelRun(["--append", "keel.test=panic"])
      #expect(run.status != 0, "\(run.output)")
      // panic=-1 makes the kernel call PSCI SYSTEM_RESET: Keel reboots the VM twice, then stops it.
      let boots = run.stdout.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("keel-guest: init reached") }.count
      #expect(boots == 3, "\(run.output)")
      #expect(run.stdout.components(separatedBy: "reset by the guest; rebooting").count - 1 == 2, "\(run.output)")
      #expect(run.stdout.contains("keel: vm0: stopped: reset loop"), "\(run.output)")
      #expect(run.keelLines.contains { $0.contains("guest panic") }, "\(run.stderr)")
    }

    /// The same guest directly on QEMU: proves the guest, initramfs and console plumbing.
    @Test("the smoke guest boots on bare QEMU", .timeLimit(.minutes(15)), arguments: [1, 2])
    func bare(_ cpus: Int) throws {
      let run = try KeelHarness.bareRun(["--cpus", String(cpus), "--append", "keel.test=smoke"])
      try expectSmokeSucceeded(run, cpus: cpus)
    }

    @Test("a kernel panic on bare QEMU is reported as a guest panic", .timeLimit(.minutes(15)))
    func barePanic() throws {
      let run = try KeelHarness.bareRun(["--append", "keel.test=panic"])
      #expect(run.status != 0, "\(run.output)")
      #expect(run.keelLines.contains { $0.contains("guest panic") }, "\(run.stderr)")
    }
  }
}

func expectSmokeSucceeded(_ run: KeelHarness.Run, cpus: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
  #expect(run.status == 0, "exit \(run.status)\n\(run.output)", sourceLocation: sourceLocation)
  let report = GuestReport(run)
  #expect(report.initReached, "\(run.output)", sourceLocation: sourceLocation)
  #expect(report.cntvct != nil, "\(run.output)", sourceLocation: sourceLocation)
  let expectedOnline = cpus == 1 ? "0" : "0-\(cpus - 1)"
  #expect(report.cpusOnline == expectedOnline, "\(run.output)", sourceLocation: sourceLocation)
  let names = GuestReport.cpuNames(online: report.cpusOnline ?? "")
  #expect(names.count == cpus, sourceLocation: sourceLocation)
  for name in names {
    let counts = try #require(report.timers[name], "no timer line for \(name)\n\(run.output)", sourceLocation: sourceLocation)
    #expect(counts.1 > counts.0, "\(name) timer did not tick: \(counts)", sourceLocation: sourceLocation)
  }
  // The guest's wall clock came from its PL031, under Keel as on bare QEMU (TLS and apt need it).
  let rtc = try #require(report.rtc, "no rtc line\n\(run.output)", sourceLocation: sourceLocation)
  #expect(rtc.name.hasPrefix("rtc-pl031"), "\(rtc)", sourceLocation: sourceLocation)
  #expect(rtc.year >= 2025, "\(rtc)", sourceLocation: sourceLocation)
  // perf works in the guest: its CPU PMU is there, as on bare QEMU.
  let perf = run.stdout.split(whereSeparator: \.isNewline).first { $0.hasPrefix("keel-guest: perf sources: ") } ?? ""
  #expect(perf.contains("armv8_pmuv3"), "\(perf)\n\(run.output)", sourceLocation: sourceLocation)
}

import Foundation
import Testing

extension SystemTests {
  /// The conformance guest (Guests/conformance) prints what it observes of the timers, the GIC's
  /// active state, DC ZVA, the RTC and its command line. Under Keel it must observe what it
  /// observes on bare QEMU, except where QEMU 7.2 itself departs from the architecture: there
  /// Keel must give the architected answer (docs/conformance.md).
  @Suite struct ConformanceTests {
    static var guest: String { KeelHarness.root + "/.build/guests/conformance.elf" }
    static var rawGuest: String { KeelHarness.root + "/.build/guests/conformance.bin" }

    /// Observations where bare QEMU 7.2 is wrong, with what the architecture says instead.
    /// GICv2 only: QEMU's GICv2 CPU interface ignores a GICC_APR0 write (its running priority
    /// stays raised, so nothing of that priority is signalled again).
    static func architected(gic: Int) -> [String: String] {
      var answers = [
        // Arm ARM: DC ZVA to Device memory is an alignment fault; QEMU zeroes the block.
        "dc-zva": "mmu off: EC 0x25 DFSC 0x21 WnR 1 FAR is the address, block kept",
      ]
      if gic == 2 {
        answers["clear-active"] = "acknowledged 27, active 1, after ICACTIVER: active 0, fires again as 27"
        answers["set-active"] = "active 1, held while active, pending 1, after ICACTIVER fires as 27"
        answers["cpu1: clear-active"] = answers["clear-active"]
        // The same stuck running priority then hides the PMU's overflow interrupt too.
        answers["pmu #2"] = "overflow interrupt 23, overflow flag set"
      }
      return answers
    }

    /// "conformance: cpu1: ptimer: fired, …" → ("cpu1: ptimer", "fired, …"); a probe may print
    /// several lines, so the key keeps their order with an index.
    static func observations(_ run: KeelHarness.Run) -> [(key: String, value: String)] {
      var seen: [String: Int] = [:]
      return run.lines(withPrefix: "conformance: ").map { line in
        let body = String(line.dropFirst("conformance: ".count))
        let parts = body.components(separatedBy: ": ")
        let probeParts = parts.first == "cpu1" ? 2 : 1
        let probe = parts.prefix(probeParts).joined(separator: ": ")
        let value = parts.dropFirst(probeParts).joined(separator: ": ")
        let n = seen[probe, default: 0]
        seen[probe] = n + 1
        return (n == 0 ? probe : "\(probe) #\(n + 1)", value)
      }
    }

    static let configurations: [(gic: Int, cpus: Int)] = [(3, 1), (3, 2), (2, 1), (2, 2)]

    @Test("the conformance guest observes under Keel what it observes on bare QEMU", .timeLimit(.minutes(10)),
          arguments: configurations)
    func sameAsBareQEMU(_ configuration: (gic: Int, cpus: Int)) throws {
      try KeelHarness.require(Self.guest, builtBy: "run `Guests/build.sh .build/guests`")
      let machine = ["--kernel", Self.guest, "--memory", "64", "--gic", String(configuration.gic), "--cpus", String(configuration.cpus)]
      let bare = try KeelHarness.bareRun(machine, timeout: 120)
      // One host CPU: with two vCPUs, their timers must be switched on and off it.
      let keel = try KeelHarness.keelRun(machine + ["--host-cpus", "1"], timeout: 120)
      for run in [bare, keel] {
        #expect(run.status == 0, "exit \(run.status)\n\(run.output)")
        #expect(run.stdout.contains("conformance: done"), "\(run.output)")
      }
      let expected = Self.observations(bare), observed = Self.observations(keel)
      #expect(expected.map(\.key) == observed.map(\.key), "bare:\n\(bare.stdout)\nKeel:\n\(keel.stdout)")
      let architected = Self.architected(gic: configuration.gic)
      for (b, k) in zip(expected, observed) where b.key == k.key {
        #expect(k.value == (architected[k.key] ?? b.value), "\(k.key): bare QEMU says \"\(b.value)\", Keel \"\(k.value)\"")
      }
      // Each probe ran for real: the timers fired and the RTC ticked on both.
      for line in ["ptimer: fired, ctl 0x5, intid 30", "rtc: periph id 0x141031 cell id 0xb105f00d, date after 2025, ticks",
                   "counter-rate: physical counter runs at cntfrq", "pmu: overflow interrupt 23, overflow flag set",
                   "debug: breakpoints fired 6 of 6", "debug: watchpoint fired, FAR is the address, store done",
                   "debug: software step fired after one instruction, both instructions ran"] {
        #expect(keel.stdout.contains("conformance: " + line), "\(keel.output)")
      }
      if configuration.cpus == 2 {
        #expect(keel.stdout.contains("conformance: cpu0: ptimer kept: cval 0x111100000000, ctl 0x1"), "\(keel.output)")
        #expect(keel.stdout.contains("conformance: cpu0: pmu kept: event 0x11, counting, enabled"), "\(keel.output)")
        #expect(keel.stdout.contains("conformance: cpu0: breakpoint kept: fired"), "\(keel.output)")
        #expect(keel.stdout.contains("conformance: cpu1: debug: vCPU 0's breakpoint not seen here"), "\(keel.output)")
      }
    }

    /// A bare-metal program's command line is what the user appended, nothing more (a short
    /// one too: it once corrupted the hypervisor's heap).
    @Test("a bare-metal guest gets exactly its command line", .timeLimit(.minutes(5)))
    func commandLine() throws {
      try KeelHarness.require(Self.rawGuest, builtBy: "run `Guests/build.sh .build/guests`")
      let machine = ["--kernel", Self.rawGuest, "--load-address", "0x40080000", "--memory", "64"]
      let bare = try KeelHarness.bareRun(machine + ["--append", "a b"], timeout: 120)
      let keel = try KeelHarness.keelRun(machine + ["--append", "a b"], timeout: 120)
      #expect(bare.stdout.contains("conformance: cmdline: \"a b\""), "\(bare.output)")
      #expect(keel.stdout.contains("conformance: cmdline: \"a b\""), "\(keel.output)")
      let none = try KeelHarness.keelRun(machine, timeout: 120)
      #expect(none.stdout.contains("conformance: cmdline: none"), "\(none.output)")
    }

    /// Trapped time at 100 MHz (1.6 times the host counter): the guest is told its frequency,
    /// and its physical counter runs at it, measured against its RTC.
    @Test("a trapped-time guest is told the frequency its counter runs at", .timeLimit(.minutes(5)))
    func scaledFrequency() throws {
      try KeelHarness.require(Self.guest, builtBy: "run `Guests/build.sh .build/guests`")
      let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keel-scaled-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(at: dir) }
      let vmx = dir.appendingPathComponent("scaled.vmx")
      try """
        displayName = "scaled"
        keel.kernel = "\(Self.guest)"
        memsize = "64"
        keel.time.mode = "trapped"
        keel.time.frequency = "100000000"
        """.write(to: vmx, atomically: true, encoding: .utf8)
      let run = try KeelHarness.keelRun([vmx.path], timeout: 120)
      #expect(run.status == 0, "\(run.output)")
      #expect(run.stdout.contains("conformance: cntfrq: 100000000"), "\(run.output)")
      #expect(run.stdout.contains("conformance: counter-rate: physical counter runs at cntfrq"), "\(run.output)")
    }
  }
}

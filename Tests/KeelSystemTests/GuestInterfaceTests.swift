import Foundation
import Testing

extension SystemTests {
  /// The guest–hypervisor channel (issue 4): Debian's unmodified open-vm-tools over the VMware
  /// backdoor, guestinfo both ways while the VM runs, virtualization detection, and trapped
  /// guest time that scales and stands still across a pause.
  @Suite struct GuestInterfaceTests {
    static func value(of command: String, in output: String) -> String? {
      let prefix = "keel-guest: \(command): "
      return output.split(whereSeparator: \.isNewline).first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    @Test("stock open-vm-tools believe they run on VMware; guestinfo flows both ways", .timeLimit(.minutes(15)))
    func openVMTools() throws {
      let vmx = """
        .encoding = "UTF-8"
        displayName = "tools-vm"
        numvcpus = "1"
        memsize = "512"
        guestinfo.keel.test = "set in the vmx"
        keel.guest = "tools"
        keel.hypervisorNode = "vmware"
        keel.cmdline = "keel.test=vmtools keel.hold=60 quiet"
        """
      let run = try KeelHarness.Background(files: ["tools-vm.vmx": vmx])
      _ = try run.waitForLine("keel-guest: vmware-toolbox-cmd stat hosttime: ")
      let hosttimeSeenAt = Date()
      _ = try run.waitForLine("keel-guest: vmtools done")
      let out = run.stdout
      #expect(Self.value(of: "vmware-checkvm", in: out) == "VMware software version 6 (good) (exit 0)", "\(run.output)")
      #expect(Self.value(of: "vmware-checkvm -p", in: out) == "ESX Server (exit 0)", "\(run.output)")
      #expect(Self.value(of: #"vmware-rpctool "info-get guestinfo.keel.test""#, in: out) == "set in the vmx (exit 0)", "\(run.output)")
      #expect(Self.value(of: #"vmware-rpctool "info-get guestinfo.keel.fromguest""#, in: out) == "hello-from-guest (exit 0)")

      // Host time through GETTIMEFULL: "22 Nov 2026 19:41:03 (exit 0)", printed in the guest's UTC.
      let hosttime = try #require(Self.value(of: "vmware-toolbox-cmd stat hosttime", in: out))
      let formatter = DateFormatter()
      formatter.locale = Locale(identifier: "en_US_POSIX")
      formatter.timeZone = TimeZone(identifier: "UTC")
      formatter.dateFormat = "dd MMM yyyy HH:mm:ss"
      let stamp = String(hosttime.prefix { $0 != "(" }).trimmingCharacters(in: .whitespaces)
      let guestSaw = try #require(formatter.date(from: stamp), "unparsable hosttime \(hosttime)")
      // The guest prints whole seconds, and the line reaches us a moment later: within 2 s of the
      // host's clock means within 2 s after truncation, plus the relay.
      let lag = hosttimeSeenAt.timeIntervalSince(guestSaw)
      #expect(lag >= -1 && lag < 3, "guest saw host time \(stamp); the host's clock said \(hosttimeSeenAt) when it printed")
      let speed = try #require(Self.value(of: "vmware-toolbox-cmd stat speed", in: out))
      #expect((Int(speed.split(separator: " ").first ?? "") ?? 0) > 0, "\(speed)")
      #expect(Self.value(of: "/bin/keel-detect", in: out)?.hasPrefix("keel-detect: hypervisor present") == true, "\(run.output)")
      // What systemd-detect-virt reads on a device-tree guest.
      #expect(Self.value(of: "cat /proc/device-tree/hypervisor/compatible", in: out)?.hasPrefix("vmware") == true, "\(run.output)")

      // The value the guest set is visible to the host, and the host's reaches the guest.
      let fromGuest = try run.keel(["guestinfo", "tools-vm", "guestinfo.keel.fromguest"])
      #expect(fromGuest.status == 0, "\(fromGuest.output)")
      #expect(fromGuest.stdout.trimmingCharacters(in: .newlines) == "hello-from-guest")
      let missing = try run.keel(["guestinfo", "tools-vm", "keel.nothing"])
      #expect(missing.status == 1, "\(missing.output)")
      let release = try run.keel(["guestinfo", "tools-vm", "keel.release", "bye from the host"])
      #expect(release.status == 0, "\(release.output)")
      let released = try run.waitForLine("keel-guest: released by host: ", seconds: 60)
      #expect(released == "keel-guest: released by host: bye from the host")
      #expect(run.finish() == 0, "\(run.output)")
    }

    @Test("the exclusive-monitor detector says present under Keel and absent on bare QEMU", .timeLimit(.minutes(10)))
    func detector() throws {
      let keel = try KeelHarness.keelRun(["--append", "keel.test=detect quiet"], timeout: 300)
      #expect(keel.stdout.contains("keel-detect: hypervisor present"), "\(keel.output)")
      let bare = try KeelHarness.bareRun(["--append", "keel.test=detect quiet"], timeout: 300)
      #expect(bare.stdout.contains("keel-detect: hypervisor absent"), "\(bare.output)")
    }

    @Test("trapped guest time: Linux keeps time on the trapped physical timer, sleep 10 takes 10 s, monotonic across a pause", .timeLimit(.minutes(10)))
    func trappedTime() throws {
      let vmx = """
        displayName = "clock-vm"
        numvcpus = "1"
        memsize = "256"
        keel.time.mode = "trapped"
        keel.time.frequency = "100000000"
        keel.cmdline = "keel.test=timing"
        """
      let run = try KeelHarness.Background(files: ["clock-vm.vmx": vmx])
      _ = try run.waitForLine("keel-guest: sleep start")
      let started = Date()
      _ = try run.waitForLine("keel-guest: sleep end", seconds: 60)
      let slept = Date().timeIntervalSince(started)
      #expect(abs(slept - 10) <= 1.0, "guest sleep 10 took \(slept) s of host time")
      #expect(run.stdout.contains("arch_timer: cp15 timer(s) running at") && run.stdout.contains("(phys)"),
              "Linux should run on the (trapped) physical timer: \(run.output)")

      // Pause for 3 s in the middle of the clock samples.
      _ = try run.waitForLine("keel-guest: clock ")
      usleep(2_000_000)
      let pause = try run.keel(["pause", "clock-vm"])
      #expect(pause.status == 0, "\(pause.output)")
      usleep(3_000_000)
      let resume = try run.keel(["resume", "clock-vm"])
      #expect(resume.status == 0, "\(resume.output)")
      #expect(run.finish() == 0, "\(run.output)")

      let samples = run.stdout.split(whereSeparator: \.isNewline)
        .filter { $0.hasPrefix("keel-guest: clock ") }
        .compactMap { Double($0.dropFirst("keel-guest: clock ".count)) }
      #expect(samples.count == 40, "\(run.output)")
      for (a, b) in zip(samples, samples.dropFirst()) {
        #expect(b > a, "guest clock went from \(a) to \(b)")
        // Samples are 0.5 s of guest time apart; the 3 s pause must not show up as a jump.
        #expect(b - a < 1.5, "guest clock jumped from \(a) to \(b) across the pause")
      }
    }

    @Test("a guest reading the trapped physical counter sees the configured 100 MHz", .timeLimit(.minutes(5)))
    func trappedCounterFrequency() throws {
      let guest = KeelHarness.root + "/.build/guests/microbench.elf"
      try KeelHarness.require(guest, builtBy: "run `Guests/build.sh .build/guests`")
      let vmx = """
        displayName = "counter-vm"
        memsize = "64"
        keel.kernel = "\(guest)"
        keel.time.mode = "trapped"
        keel.time.frequency = "100000000"
        """
      let run = try KeelHarness.Background(files: ["counter-vm.vmx": vmx])
      let line = try run.waitForLine("microbench: cntpct trapped=", seconds: 120)
      #expect(run.finish() == 0, "\(run.output)")
      #expect(line.contains("trapped=yes"), "\(line)")
      // "... CNTPCT_EL0 advanced ~1598 per 1000 CNTVCT_EL0 ticks; CNTFRQ_EL0 100000000)": measured
      // against the virtual counter, which keeps the host's 62.5 MHz, so host load cancels out.
      let digits = line.split(separator: "~").last.map { $0.prefix { $0.isNumber } } ?? ""
      let perMille = try #require(Double(digits), "\(line)")
      let hz = perMille / 1000 * 62_500_000
      #expect(abs(hz - 100_000_000) / 100_000_000 < 0.05, "trapped counter ran at \(hz) Hz")
      // And the guest is told that rate.
      #expect(line.hasSuffix("CNTFRQ_EL0 100000000)"), "\(line)")
    }
  }
}

import Foundation
import Testing

extension SystemTests {
  /// Many VMs on few CPUs (issue 3): overcommitted boots, CPU time by shares, limits and
  /// reservations as the hypervisor accounts it, and the serial management console.
  @Suite struct SchedulingTests {
    static func vmx(_ name: String, vcpus: Int = 1, memory: Int = 256, test: String, extra: String = "") -> String {
      """
      displayName = "\(name)"
      numvcpus = "\(vcpus)"
      memsize = "\(memory)"
      keel.cmdline = "keel.test=\(test) quiet"
      \(extra)
      """
    }

    /// CPU-bound long enough to outlast staggered boots: a VM with a reservation boots first and
    /// would otherwise finish its spin (the guest's default 20 s) before the slowest VM starts
    /// spinning and the measurement ends.
    static let spin = "spin keel.spin=120"

    /// `keel stat VM`, parsed: its key=value pairs.
    static func stat(_ run: KeelHarness.Background, _ vm: String) throws -> [String: String] {
      let result = try run.keel(["stat", vm])
      #expect(result.status == 0, "\(result.output)")
      var fields: [String: String] = [:]
      for pair in result.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
        let kv = pair.split(separator: "=", maxSplits: 1)
        if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
      }
      return fields
    }

    /// CPU time each VM got over `seconds` of host time, as a fraction of one host CPU.
    static func cpuUse(_ run: KeelHarness.Background, _ vms: [String], seconds: Double) throws -> [String: Double] {
      let before = try vms.map { try stat(run, $0) }
      usleep(UInt32(seconds * 1_000_000))
      let after = try vms.map { try stat(run, $0) }
      var use: [String: Double] = [:]
      for (i, vm) in vms.enumerated() {
        let cpu = Double(Int(after[i]["cpu_ms"] ?? "") ?? 0) - Double(Int(before[i]["cpu_ms"] ?? "") ?? 0)
        let clock = Double(Int(after[i]["clock_ms"] ?? "") ?? 0) - Double(Int(before[i]["clock_ms"] ?? "") ?? 0)
        use[vm] = clock > 0 ? cpu / clock : 0
      }
      return use
    }

    @Test("3 VMs x 2 vCPUs on 2 host CPUs boot Linux and power off; the one that panics stops alone", .timeLimit(.minutes(10)))
    func overcommittedBoot() throws {
      let run = try KeelHarness.Background(files: [
        "a.vmx": Self.vmx("a", vcpus: 2, test: "smoke"),
        "b.vmx": Self.vmx("b", vcpus: 2, test: "smoke", extra: "serial0.fileType = \"file\"\nserial0.fileName = \"b-console.log\""),
        "c.vmx": Self.vmx("c", vcpus: 2, test: "panic"),
      ], arguments: ["--host-cpus", "2"])
      let status = run.finish(seconds: 400)
      // b's console went to its serial0 file, without the prefix; a's and c's to stdout.
      let bConsole = (try? String(contentsOf: run.directory.appendingPathComponent("b-console.log"), encoding: .utf8)) ?? ""
      let lines = run.stdout.split(whereSeparator: \.isNewline).map(String.init)
        + bConsole.split(whereSeparator: \.isNewline).map { "[b] " + $0 }
      #expect(bConsole.contains("keel-guest: smoke done"), "b's serial0 file: \(bConsole)")
      #expect(!run.stdout.contains("[b] keel-guest"), "b's console lines also reached stdout")
      #expect(status == 1, "a guest panic makes the run fail:\n\(run.output)")
      for vm in ["a", "b"] {
        #expect(lines.contains("[\(vm)] keel-guest: cpus online: 0-1"), "\(run.output)")
        for cpu in 0..<2 {
          // The guest's own timer interrupt count rose on each vCPU across a 1 s sleep.
          let line = lines.first { $0.hasPrefix("[\(vm)] keel-guest: timer cpu\(cpu) ") }
          let counts = line?.split(separator: " ").compactMap { Int($0) } ?? []
          #expect(counts.count == 2 && counts[1] > counts[0], "\(vm) cpu\(cpu): \(line ?? "no timer line")")
        }
        #expect(lines.contains("[\(vm)] keel-guest: smoke done"), "\(run.output)")
        #expect(lines.contains("keel: \(vm): stopped: poweroff"), "\(run.output)")
      }
      #expect(lines.contains("[c] keel-guest: triggering a kernel panic"), "\(run.output)")
      #expect(lines.contains("keel: c: stopped: reset loop"), "\(run.output)")
      #expect(lines.contains("keel: scheduler: 6 vCPUs of 3 VMs on 2 host CPUs, 1000 MHz each, 1 resource groups"), "\(run.output)")
    }

    @Test("shares of 2:1 split a contended CPU 2:1", .timeLimit(.minutes(5)))
    func sharesSplitTheCPU() throws {
      let run = try KeelHarness.Background(files: [
        "high.vmx": Self.vmx("high", test: Self.spin, extra: "sched.cpu.shares = \"2000\""),
        "normal.vmx": Self.vmx("normal", test: Self.spin, extra: "sched.cpu.shares = \"1000\""),
      ], arguments: ["--host-cpus", "1"])
      _ = try run.waitForLine("[high] keel-guest: spinning", seconds: 120)
      _ = try run.waitForLine("[normal] keel-guest: spinning", seconds: 120)
      let use = try Self.cpuUse(run, ["high", "normal"], seconds: 8)
      let ratio = use["high"]! / max(use["normal"]!, 0.001)
      print("[SchedulingTests] shares 2000:1000 on 1 CPU: use \(use), ratio \(ratio)")
      #expect(abs(ratio - 2) <= 0.2, "CPU time ratio \(ratio), expected 2 ± 10% (\(use))")
      #expect(use["high"]! + use["normal"]! > 0.9, "the CPU was not kept busy: \(use)")
    }

    /// Shares buy work, not only CPU time (bench/shares-work.sh has the figures): two
    /// fork-and-exec loops (the guest's `forks` mode) complete rounds 2:1 over the same window
    /// when their shares are 2:1.
    @Test("shares of 2:1 buy 2:1 of the work", .timeLimit(.minutes(5)))
    func sharesBuyWork() throws {
      let run = try KeelHarness.Background(files: [
        "high.vmx": Self.vmx("high", test: "forks", extra: "sched.cpu.shares = \"2000\""),
        "normal.vmx": Self.vmx("normal", test: "forks", extra: "sched.cpu.shares = \"1000\""),
      ], arguments: ["--host-cpus", "1"])
      defer { run.stop() }
      _ = try run.waitForLine("[high] keel-guest: forks ", seconds: 180)
      _ = try run.waitForLine("[normal] keel-guest: forks ", seconds: 180)
      usleep(3_000_000)
      func rounds(_ vm: String) -> Int {
        run.lines("[\(vm)] keel-guest: forks ").last.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
      }
      let before = (rounds("high"), rounds("normal"))
      let use = try Self.cpuUse(run, ["high", "normal"], seconds: 30)
      let after = (rounds("high"), rounds("normal"))
      let work = Double(after.0 - before.0) / Double(max(after.1 - before.1, 1))
      let cpu = use["high"]! / max(use["normal"]!, 0.001)
      print("[SchedulingTests] shares 2000:1000, fork loops on 1 CPU: rounds \(before) -> \(after), work ratio \(work), CPU ratio \(cpu)")
      #expect(after.1 - before.1 >= 100, "too few rounds to measure: \(before) -> \(after)")
      #expect(abs(work - 2) <= 0.2, "work ratio \(work), expected 2 ± 10% (CPU ratio \(cpu))")
      #expect(abs(cpu - 2) <= 0.2, "CPU time ratio \(cpu)")
    }

    @Test("a max caps an uncontended VM, and a min holds under contention", .timeLimit(.minutes(5)))
    func limitAndReservation() throws {
      // Two host CPUs: `capped` (max 300 MHz of 1000) could have one alone, `reserved` (min 600
      // MHz, low shares) competes with two normal VMs for the other.
      let run = try KeelHarness.Background(files: [
        "host.cfg": """
          host.cpuMHz = "1000"
          vhost.solo.vm0 = "capped.vmx"
          vhost.busy.vm0 = "reserved.vmx"
          vhost.busy.vm1 = "other1.vmx"
          vhost.busy.vm2 = "other2.vmx"
          vhost.solo.cpu.max = "1000"
          vhost.busy.cpu.max = "1000"
          """,
        "capped.vmx": Self.vmx("capped", test: Self.spin, extra: "sched.cpu.max = \"300\""),
        "reserved.vmx": Self.vmx("reserved", test: Self.spin, extra: "sched.cpu.min = \"600\"\nsched.cpu.shares = \"low\""),
        "other1.vmx": Self.vmx("other1", test: Self.spin),
        "other2.vmx": Self.vmx("other2", test: Self.spin),
      ], arguments: ["--host", "host.cfg", "--host-cpus", "2"])
      for vm in ["capped", "reserved", "other1", "other2"] { _ = try run.waitForLine("[\(vm)] keel-guest: spinning", seconds: 180) }
      let use = try Self.cpuUse(run, ["capped", "reserved", "other1", "other2"], seconds: 8)
      print("[SchedulingTests] max 300 MHz alone; min 600 MHz (low shares) against 2 normal VMs on 1 CPU: \(use)")
      #expect(use["capped"]! <= 0.30 * 1.1 && use["capped"]! >= 0.30 * 0.9, "capped VM used \(use["capped"]!) of a CPU, limit 0.30")
      #expect(use["reserved"]! >= 0.60 * 0.95, "reserved VM got \(use["reserved"]!) of a CPU under contention, reservation 0.60")

      // Each virtual host's administrator sees and controls only its own VMs.
      run.console("@solo status")
      let solo = try run.waitForLine("keel: mgmt: ok capped=", seconds: 20)
      #expect(solo == "keel: mgmt: ok capped=running", "\(solo)")
      run.console("@solo poweroff other1")
      let refused = try run.waitForLine("keel: mgmt: error", seconds: 20)
      #expect(refused == "keel: mgmt: error no VM named other1 in virtual host solo", "\(refused)")
      #expect(try Self.stat(run, "other1")["state"] == "running")
      run.console("@busy status")
      let busy = try run.waitForLine("keel: mgmt: ok reserved=", seconds: 20)
      #expect(busy == "keel: mgmt: ok reserved=running other1=running other2=running", "\(busy)")
    }

    @Test("virtual hosts name their VMs independently, and each tenant's console view sees its own", .timeLimit(.minutes(5)))
    func tenantsNameTheirOwnVMs() throws {
      let run = try KeelHarness.Background(files: [
        "host.cfg": "vhost.tenantA.vm0 = \"a.vmx\"\nvhost.tenantB.vm0 = \"b.vmx\"\n",
        "a.vmx": Self.vmx("web", test: "wait"),
        "b.vmx": Self.vmx("web", test: "wait"),
      ], arguments: ["--host", "host.cfg", "--host-cpus", "1"])
      // On the machine the shared name is qualified by the virtual host; each tenant says "web".
      _ = try run.waitForLine("[tenantA.web] keel-guest: waiting", seconds: 120)
      _ = try run.waitForLine("[tenantB.web] keel-guest: waiting", seconds: 120)
      run.console("@tenantA status")
      let view = try run.waitForLine("keel: mgmt: ok web=", seconds: 20)
      #expect(view == "keel: mgmt: ok web=running", "\(view)")
      run.console("@tenantB poweroff web")
      _ = try run.waitForLine("keel: tenantB.web: stopped: powered off from the console", seconds: 30)
      #expect(try Self.stat(run, "tenantA.web")["state"] == "running")
      run.console("@tenantA poweroff web")
      _ = try run.waitForLine("keel: tenantA.web: stopped: powered off from the console", seconds: 30)
      #expect(run.finish(seconds: 30) == 1, "forced stops are not clean power-offs:\n\(run.output)")
    }

    @Test("the serial console lists the VMs; a forced stop stops only that VM; the power button shuts down", .timeLimit(.minutes(5)))
    func managementConsole() throws {
      let run = try KeelHarness.Background(files: [
        "a.vmx": Self.vmx("alpha", vcpus: 2, test: "wait"),
        "b.vmx": Self.vmx("beta", vcpus: 2, test: "wait"),
      ], arguments: ["--host-cpus", "2"])
      _ = try run.waitForLine("[alpha] keel-guest: waiting", seconds: 120)
      _ = try run.waitForLine("[beta] keel-guest: waiting", seconds: 120)

      run.console("screen")
      _ = try run.waitForLine("keel: mgmt: ok screen", seconds: 20)
      let screen = run.stdout
      #expect(screen.contains("\u{1B}[2J"), "no screen clear in:\n\(screen)")
      for vm in ["alpha", "beta"] {
        #expect(screen.split(whereSeparator: \.isNewline).contains { $0.hasPrefix(" \(vm) ") && $0.contains("running") }, "no row for \(vm)")
      }

      // Switched to alpha, the console is alpha's: typed text reaches its tty, whose echo comes
      // back raw (no "[alpha] " prefix); `focus` alone switches back to the hypervisor.
      run.console("focus alpha")
      _ = try run.waitForLine("keel: mgmt: ok console input and output: alpha", seconds: 20)
      run.type("typed-to-alpha\n")
      _ = try run.waitForLine("typed-to-alpha", seconds: 20)
      run.console("focus")
      _ = try run.waitForLine("keel: mgmt: ok console input goes to no VM", seconds: 20)

      run.console("poweroff beta")
      _ = try run.waitForLine("keel: beta: stopped: powered off from the console", seconds: 20)
      #expect(try Self.stat(run, "alpha")["state"] == "running", "alpha must keep running")
      #expect(!run.stdout.contains("keel: alpha: stopped"), "\(run.output)")

      run.console("shutdown alpha")
      _ = try run.waitForLine("[alpha] keel-guest: power button pressed", seconds: 30)
      _ = try run.waitForLine("keel: alpha: stopped: poweroff", seconds: 60)
      #expect(run.finish(seconds: 30) == 1, "a forced stop is not a clean power-off:\n\(run.output)")
    }
  }
}

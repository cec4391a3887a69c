import Foundation
import Testing


extension SystemTests {
  /// Bad input is refused with one clear line and exit status 2 before QEMU starts.
  /// A stand-in qemu-system-aarch64 early on PATH records any launch attempt.
  @Suite struct BadInputTests {
    struct Sandbox {
      let directory: URL
      let marker: URL
      init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("keel-badinput-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        marker = directory.appendingPathComponent("qemu-was-started")
        let fake = directory.appendingPathComponent("qemu-system-aarch64")
        try "#!/bin/sh\ntouch '\(marker.path)'\nexit 99\n".write(to: fake, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
      }
      /// Validation happens before the hypervisor is needed, so a placeholder image is enough here.
      func keel(_ arguments: [String]) throws -> KeelHarness.Run {
        let hypervisor = directory.appendingPathComponent("placeholder-hypervisor.elf")
        if !FileManager.default.fileExists(atPath: hypervisor.path) { try Data([0x7F, 0x45, 0x4C, 0x46]).write(to: hypervisor) }
        try KeelHarness.require(KeelHarness.keelBinary, builtBy: "run `swift build --product keel`")
        return try KeelHarness.run(["run", "--hypervisor", hypervisor.path, "--timeout", "60"] + arguments,
                                   hardLimit: 600, environment: environment)
      }
      var environment: [String: String] {
        ["PATH": directory.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]
      }
      func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
      }
      func expectRefused(_ run: KeelHarness.Run, mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status == 2, "exit \(run.status)\n\(run.output)", sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: marker.path), "QEMU was started", sourceLocation: sourceLocation)
        let message = run.keelLines.last ?? ""
        for word in words {
          #expect(message.localizedCaseInsensitiveContains(word), "\(word) not in: \(run.stderr)", sourceLocation: sourceLocation)
        }
        #expect(run.stdout.isEmpty, "guest output: \(run.stdout)", sourceLocation: sourceLocation)
      }
    }

    /// The default guest's kernel, fetched into the cache by a previous keel run or by this one.
    func defaultKernel() throws -> [UInt8] {
      if let kernel = cachedDefaultKernel() { return kernel }
      // A bare smoke boot downloads and caches the default guest.
      _ = try KeelHarness.bareRun(["--append", "keel.test=smoke"])
      if let kernel = cachedDefaultKernel() { return kernel }
      throw KeelHarness.Missing(description: "no default kernel in the keel cache after a bare boot")
    }

    func cachedDefaultKernel() -> [UInt8]? {
      let cache = ProcessInfo.processInfo.environment["KEEL_CACHE"]
        ?? (NSHomeDirectory() + "/.cache/keel")
      let extracted = cache + "/extracted"
      let trees = (try? FileManager.default.contentsOfDirectory(atPath: extracted))?.filter { $0.hasPrefix("linux-image-") } ?? []
      for tree in trees.sorted().reversed() {
        let boot = extracted + "/" + tree + "/boot"
        if let image = (try? FileManager.default.contentsOfDirectory(atPath: boot))?.first(where: { $0.hasPrefix("vmlinuz-") }),
           let data = FileManager.default.contents(atPath: boot + "/" + image) {
          return [UInt8](data)
        }
      }
      return nil
    }

    @Test("a truncated arm64 Image is refused", .timeLimit(.minutes(10)))
    func truncatedImage() throws {
      let sandbox = try Sandbox()
      let kernel = try defaultKernel()
      for length in [60, kernel.count / 2] {
        let path = try sandbox.file("truncated-\(length).img", Array(kernel[..<length]))
        let run = try sandbox.keel(["--kernel", path])
        sandbox.expectRefused(run, mentioning: [path, "truncated"])
      }
    }

    @Test("random bytes are refused unless a load address is given", .timeLimit(.minutes(5)))
    func randomBytes() throws {
      let sandbox = try Sandbox()
      var generator = SystemRandomNumberGenerator()
      var junk = (0..<65536).map { _ in UInt8.random(in: 0...255, using: &generator) }
      junk[0] = 0  // not accidentally "MZ"/ELF magic
      let path = try sandbox.file("random.bin", junk)
      let run = try sandbox.keel(["--kernel", path])
      sandbox.expectRefused(run, mentioning: [path, "--load-address"])
      let misaligned = try sandbox.keel(["--kernel", path, "--load-address", "0x40000100"])
      sandbox.expectRefused(misaligned, mentioning: ["aligned"])
    }

    // More vCPUs than host CPUs is allowed (the scheduler overcommits); more than 8 per VM is not.
    @Test("more vCPUs than a VM may have is refused", .timeLimit(.minutes(5)))
    func cpusAboveMaximum() throws {
      let sandbox = try Sandbox()
      let run = try sandbox.keel(["--cpus", "9", "--host-cpus", "2"])
      sandbox.expectRefused(run, mentioning: ["--cpus 9"])
    }

    @Test("an initrd larger than guest RAM is refused", .timeLimit(.minutes(10)))
    func initrdTooBig() throws {
      let sandbox = try Sandbox()
      let path = sandbox.directory.appendingPathComponent("huge.initrd").path
      // Sparse: the size matters, not the contents.
      _ = FileManager.default.createFile(atPath: path, contents: nil)
      let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
      try handle.truncate(atOffset: 200 << 20)
      try handle.close()
      let run = try sandbox.keel(["--memory", "128", "--initrd", path])
      sandbox.expectRefused(run, mentioning: [path, "fit"])
    }

    @Test("unreadable paths and impossible sizes are refused", .timeLimit(.minutes(5)))
    func otherLimits() throws {
      let sandbox = try Sandbox()
      let missing = sandbox.directory.appendingPathComponent("no-such-kernel").path
      sandbox.expectRefused(try sandbox.keel(["--kernel", missing]),
                            mentioning: [missing])
      sandbox.expectRefused(try sandbox.keel(["--cpus", "0"]), mentioning: ["--cpus"])
      sandbox.expectRefused(try sandbox.keel(["--memory", "8"]), mentioning: ["--memory"])
      sandbox.expectRefused(try sandbox.keel(["--memory", "20000"]), mentioning: ["--memory"])
      sandbox.expectRefused(try sandbox.keel(["--gic", "4"]), mentioning: ["--gic"])
    }

    @Test("bad VM and host files are refused before any VM starts: malformed lines, impossible reservations, unknown groups", .timeLimit(.minutes(5)))
    func badSchedulingConfiguration() throws {
      let sandbox = try Sandbox()
      func write(_ name: String, _ text: String) throws -> String {
        try sandbox.file(name, Array(text.utf8))
      }
      let malformed = try write("malformed.vmx", "displayName = \"m\"\nnumvcpus \"2\"\n")
      sandbox.expectRefused(try sandbox.keel([malformed]), mentioning: ["malformed.vmx", "2"])

      let greedy1 = try write("greedy1.vmx", "displayName = \"g1\"\nnumvcpus = \"2\"\nsched.cpu.min = \"1500\"\n")
      let greedy2 = try write("greedy2.vmx", "displayName = \"g2\"\nnumvcpus = \"2\"\nsched.cpu.min = \"1500\"\n")
      // 3000 MHz reserved on 2 host CPUs of 1000 MHz.
      sandbox.expectRefused(try sandbox.keel(["--host-cpus", "2", greedy1, greedy2]), mentioning: ["reserv"])

      let minAboveMax = try write("minmax.vmx", "displayName = \"mm\"\nsched.cpu.min = \"800\"\nsched.cpu.max = \"400\"\n")
      sandbox.expectRefused(try sandbox.keel([minAboveMax]), mentioning: ["minmax.vmx", "sched.cpu"])

      let lost = try write("lost.vmx", "displayName = \"lost\"\nkeel.group = \"nowhere\"\n")
      sandbox.expectRefused(try sandbox.keel([lost]), mentioning: ["lost.vmx", "nowhere"])
      let host = try write("host.cfg", "vhost.tenant.vm0 = \"lost.vmx\"\n")
      sandbox.expectRefused(try sandbox.keel(["--host", host]), mentioning: ["nowhere"])
      let badHost = try write("bad.cfg", "vhost.tenant.cpu.frobnicate = \"1\"\n")
      sandbox.expectRefused(try sandbox.keel(["--host", badHost]), mentioning: ["bad.cfg", "frobnicate"])
    }
  }
}

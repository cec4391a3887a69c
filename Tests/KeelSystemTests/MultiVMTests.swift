import Foundation
import Testing

extension SystemTests {
  /// Several VMs on one hypervisor, each vCPU pinned to its own host CPU.
  @Suite struct MultiVMTests {
    @Test("a VM that panics reboots and then stops alone while the other runs to the end", .timeLimit(.minutes(10)))
    func panicIsContained() throws {
      let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keel-mvm-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(at: directory) }
      let alpha = directory.appendingPathComponent("alpha.vmx"), beta = directory.appendingPathComponent("beta.vmx")
      try "displayName = \"alpha\"\nmemsize = \"256\"\nkeel.cmdline = \"keel.test=panic quiet\"\n"
        .write(to: alpha, atomically: true, encoding: .utf8)
      try "displayName = \"beta\"\nmemsize = \"256\"\nkeel.cmdline = \"keel.test=smoke quiet\"\n"
        .write(to: beta, atomically: true, encoding: .utf8)

      let run = try KeelHarness.keelRun([alpha.path, beta.path], timeout: 300,
                                        environment: ["KEEL_RUN_DIR": directory.appendingPathComponent("run").path])
      #expect(run.status != 0, "\(run.output)")
      #expect(run.keelLines.contains { $0.contains("alpha: guest panic") }, "\(run.stderr)")
      // alpha's panics, reboots and final stop touched alpha only: beta ran its whole smoke test and powered off.
      let lines = run.output.split(whereSeparator: \.isNewline).map(String.init)
      #expect(lines.contains("keel: alpha: stopped: reset loop"), "\(run.output)")
      #expect(lines.contains("[beta] keel-guest: smoke done"), "\(run.output)")
      #expect(lines.contains("keel: beta: stopped: poweroff"), "\(run.output)")
    }
  }
}

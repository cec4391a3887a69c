import Foundation
import Testing


extension SystemTests {
  /// The bare-metal guest that pokes at Keel's trap paths (Guests/hostile).
  @Suite struct HostileGuestTests {
    @Test("the hostile guest survives every probe, and Linux still boots afterwards", .timeLimit(.minutes(20)))
    func hostileThenLinux() throws {
      try KeelHarness.require(KeelHarness.hostileGuest, builtBy: "run `Guests/build.sh .build/guests`")
      let run = try KeelHarness.keelRun(["--kernel", KeelHarness.hostileGuest, "--memory", "64"], timeout: 300)
      #expect(run.status == 0, "exit \(run.status)\n\(run.output)")
      #expect(run.stdout.contains("hostile: survived all probes"), "\(run.output)")

      let probes = run.lines(withPrefix: "hostile: ").filter { $0.contains(" -> ") && !$0.contains(" burst ") }
      #expect(!probes.isEmpty, "\(run.output)")
      // Every probe came back with an answer: an injected exception, a value, or an SMCCC result.
      let outcomes = ["data abort", "undefined instruction", "no exception", "x0 ", "exception EC="]
      for line in probes {
        let outcome = String(line[line.range(of: " -> ")!.upperBound...])
        #expect(outcomes.contains { outcome.hasPrefix($0) }, "unrecognised outcome: \(line)")
      }
      // Accesses Keel cannot back or emulate must come back as aborts, not hangs or values.
      for line in probes where line.hasPrefix("hostile: unmapped load") || line.hasPrefix("hostile: ldp ")
        || line.hasPrefix("hostile: past RAM end") {
        #expect(line.contains("data abort"), "\(line)")
      }
      // Unknown SMCCC calls get an error code.
      for line in probes where line.contains(" fid ") && !line.contains("fid 0xc4000003") {
        #expect(line.contains("x0 0xffffffffffffffff") || line.contains("(-1)"), "\(line)")
      }

      let linux = try KeelHarness.keelRun(["--append", "keel.test=smoke"])
      try expectSmokeSucceeded(linux, cpus: 1)
    }
  }
}

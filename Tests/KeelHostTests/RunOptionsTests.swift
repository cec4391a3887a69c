import Testing
@testable import KeelHost

@Suite struct RunOptionsTests {
  @Test func defaultsAreValid() throws {
    let options = RunOptions()
    try options.checkLimits()
    #expect(options.effectiveHostCPUs == options.cpus)
  }

  @Test func hostCPUsDefaultToGuestCPUs() throws {
    let options = RunOptions(cpus: 4)
    try options.checkLimits()
    #expect(options.effectiveHostCPUs == 4)
  }

  /// The scheduler shares host CPUs, so vCPUs may outnumber them.
  @Test func overcommitIsAllowed() throws {
    try RunOptions(cpus: 8, hostCPUs: 1).checkLimits()
    try RunOptions(cpus: 4, hostCPUs: 2).checkLimits()
  }

  @Test(arguments: [
    (RunOptions(cpus: 0), RunValidationError.cpusBelowOne(0)),
    (RunOptions(cpus: 9), .cpusAboveMaximum(9)),
    (RunOptions(cpus: 2, hostCPUs: 9), .hostCPUsOutOfRange(9)),
    (RunOptions(hostCPUs: 0), .hostCPUsOutOfRange(0)),
    (RunOptions(memoryMiB: 15), .memoryTooSmall(15)),
    (RunOptions(gic: 4), .unsupportedGIC(4)),
    (RunOptions(loadAddress: 0x4000_0800), .loadAddressMisaligned(0x4000_0800)),
    (RunOptions(timeoutSeconds: 0), .timeoutNotPositive(0)),
    (RunOptions(board: .keel), .boardWithoutBare("keel")),
    (RunOptions(board: .virt), .boardWithoutBare("virt")),
  ])
  func rejects(_ options: RunOptions, _ expected: RunValidationError) {
    #expect(throws: expected) { try options.checkLimits() }
  }

  @Test func memoryCeilingLeavesRoomForKeel() {
    let ceiling = RunLimits.maxHostMemoryMiB - 2 * RunLimits.hostReserveMiB
    #expect(throws: RunValidationError.memoryTooLarge(requested: ceiling + 1, maximum: ceiling)) {
      try RunOptions(memoryMiB: ceiling + 1).checkLimits()
    }
    #expect(throws: Never.self) { try RunOptions(memoryMiB: ceiling).checkLimits() }
  }

  @Test func errorMessagesAreOneLine() {
    let errors: [RunValidationError] = [
      .cpusBelowOne(0), .cpusAboveMaximum(9), .memoryTooLarge(requested: 1, maximum: 0),
      .unreadable(path: "/x", reason: "no such file"), .badKernel(path: "/k", reason: "bad"),
    ]
    for error in errors {
      #expect(!error.description.contains("\n"))
      #expect(!error.description.isEmpty)
    }
  }

  @Test func parsesAddresses() throws {
    #expect(try parseAddress("0x4020_0000") == 0x4020_0000)
    #expect(try parseAddress("0X10") == 16)
    #expect(try parseAddress("4096") == 4096)
    #expect(throws: RunValidationError.badAddress("0xZZ")) { try parseAddress("0xZZ") }
    #expect(throws: RunValidationError.badAddress("")) { try parseAddress("") }
  }
}

import Testing
import KeelSched
import KeelVM
import KeelLoader

@Suite struct StatusTextTests {
  static let hz: UInt64 = 1000

  func status(_ states: [VCPUState] = [.running(HostCPUID(1)), .blocked(until: 2500)]) -> VMStatus {
    var def = VMDefinition(name: Array("web".utf8))
    def.memoryMiB = 512
    def.cpuMinMHz = 600
    var exits = ExitCounters()
    exits.hvc = 7
    return VMStatus(name: "tenantA.web", localName: "web", virtualHost: "tenantA", group: "tenantA", state: "running",
                    isRunning: true, isPaused: false, definition: def, cpuTicks: 4_000, entitledMHz: 600,
                    vcpuStates: states, vcpuExits: [5, 2], exits: exits, bootedAt: 1_000, ramHostBase: 0x4A40_0000)
  }

  @Test func statLineHasEveryFieldKeelStatReads() {
    #expect(StatusText.statLine(status(), now: 11_000, hz: Self.hz)
      == "state=running vhost=tenantA vcpus=2 running=1 cpu_ms=4000 entitled_mhz=600 memory_mib=512 uptime_s=10 exits=7 clock_ms=11000")
  }

  @Test func inspectDescribesTheVMAndEachVCPU() {
    let lines = StatusText.inspect(status(), now: 2_000, hz: Self.hz)
    #expect(lines[0] == "tenantA.web: running, virtual host tenantA, group tenantA, up 1 s")
    #expect(lines[1] == "tenantA.web: cpu 4000 ms, entitled 600 MHz (shares normal, min 600 MHz, max unlimited)")
    #expect(lines[2].hasPrefix("tenantA.web: memory 512 MiB at host 0x4a400000, exits total=7 "))
    #expect(lines[3] == "tenantA.web: vcpu0: running on CPU 1, exits 5")
    #expect(lines[4] == "tenantA.web: vcpu1: sleeping, timer in 500 ms, exits 2")
  }

  @Test func screenListsVMsByTheirLocalName() {
    var row = status()
    row.screenPercent = 42
    let text = StatusText.screen([row], scope: "tenantA", hostCPUs: 2, cpuMHz: 1000, now: 3_661_000, hz: Self.hz)
    #expect(text.contains("Keel hypervisor / virtual host tenantA | 2 host CPUs at 1000 MHz | up 1:01:01"))
    #expect(text.contains(" web "))
    #expect(!text.contains("tenantA.web"))
    #expect(text.contains("42%"))
  }

  @Test func screenPercentIsSinceTheLastSampleOrTheBoot() {
    #expect(StatusText.percent(ticks: 500, last: (0, 0), bootedAt: 1_000, now: 2_000) == 50)
    #expect(StatusText.percent(ticks: 900, last: (500, 2_000), bootedAt: 1_000, now: 3_000) == 40)
    // A reboot since the last sample: counted from the boot.
    #expect(StatusText.percent(ticks: 100, last: (500, 2_000), bootedAt: 2_500, now: 3_000) == 20)
  }
}

@Suite struct SchedulerSetupTests {
  @Test func groupsAndVMsBecomeTheSchedulersConfiguration() {
    var machine = MachineDefinition()
    machine.cpuMHz = 2000
    var pool = GroupDefinition(name: Array("busy".utf8))
    pool.cpuMaxMHz = 1000
    machine.groups = [pool]
    var a = VMDefinition(name: Array("a".utf8))
    a.group = Array("busy".utf8)
    a.cpuMinMHz = 600
    a.shares = 500
    var b = VMDefinition(name: Array("b".utf8))
    b.cpus = 2
    machine.vms = [a, b]
    let c = machine.schedulerConfiguration(hostCPUs: 2, ticksPerSecond: 1000)
    #expect(c.hostCPUCount == 2 && c.mhzPerCPU == 2000)
    #expect(c.groups.map(\.name) == ["busy", "host"])
    #expect(c.groups[0].allocation.maxMHz == 1000)
    #expect(c.vms[0].group == GroupID(0) && c.vms[0].allocation.minMHz == 600 && c.vms[0].allocation.shares == .custom(500))
    #expect(c.vms[1].group == GroupID(1) && c.vms[1].vcpuCount == 2 && c.vms[1].allocation.shares == .normal)
  }
}

@Suite struct VMPlanTests {
  @Test func boardAndBootLayoutFollowTheDefinition() throws {
    var def = VMDefinition(name: Array("t".utf8))
    def.cpus = 2
    def.memoryMiB = 64
    def.timeMode = .trapped
    def.hypervisorNode = Array("vmware".utf8)
    def.loadAddress = VMPlan.ramBase   // a raw binary needs one
    let kernel = [UInt8](repeating: 0x1F, count: 4096)   // a raw binary
    let plan = try kernel.withUnsafeBytes { bytes in
      try VMPlan(def, kernel: bytes, bootargs: nil, initrdSize: 0x1000, gicVersion: .v2, hostCounterHz: 62_500_000, pmu: true)
    }
    #expect(plan.board.memory.base == VMPlan.ramBase && plan.board.memory.size == 64 << 20)
    #expect(plan.board.cpuAffinities.count == 2 && plan.board.gicVersion == .v2)
    #expect(plan.board.bootargs == "", "a bare-metal program gets no command line it was not given")
    #expect(plan.board.timerPPIs.clockFrequency == nil)
    #expect(plan.board.pmuPPI == 7)
    #expect(plan.board.timerPPIs.physicalOnly)
    #expect(plan.board.hypervisorCompatible == "vmware")
    let initrd = try #require(plan.board.initrd)
    #expect(initrd.base == plan.layout.initrdAddress && initrd.size == 0x1000)
  }

  @Test func anImageLargerThanRAMIsRefused() {
    var def = VMDefinition(name: Array("t".utf8))
    def.memoryMiB = 1
    let kernel = [UInt8](repeating: 0, count: 2 << 20)
    #expect(throws: GuestImageError.self) {
      try kernel.withUnsafeBytes { bytes in _ = try VMPlan(def, kernel: bytes, bootargs: Array("x".utf8), initrdSize: nil, gicVersion: .v3, hostCounterHz: 62_500_000, pmu: true) }
    }
  }

  /// A minimal arm64 Linux Image header (magic "ARM\x64" at 56), then zeros.
  func linuxImage() -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 0x2000)
    bytes[16] = 0x10          // image_size 0x1000
    bytes[56] = 0x41; bytes[57] = 0x52; bytes[58] = 0x4D; bytes[59] = 0x64
    return bytes
  }

  func plan(_ def: VMDefinition, _ kernel: [UInt8]) throws(GuestImageError) -> VMPlan {
    let result = kernel.withUnsafeBytes { bytes -> Result<VMPlan, GuestImageError> in
      do throws(GuestImageError) {
        return .success(try VMPlan(def, kernel: bytes, bootargs: nil, initrdSize: nil, gicVersion: .v3, hostCounterHz: 62_500_000, pmu: true))
      } catch { return .failure(error) }
    }
    return try result.get()
  }

  @Test func linuxGetsItsConsoleAndKeepsTheHostFrequency() throws {
    var def = VMDefinition(name: Array("t".utf8))
    def.memoryMiB = 64
    def.timeMode = .trapped
    #expect(try plan(def, linuxImage()).board.bootargs == "console=ttyAMA0")
    def.timeFrequency = 62_500_000
    #expect(try plan(def, linuxImage()).board.timerPPIs.clockFrequency == nil)
  }

  /// Linux keeps time with the virtual counter, which cannot be scaled: it is told the host's
  /// rate (no `clock-frequency`, CNTFRQ_EL0 unchanged), which keeps its clock right.
  @Test func linuxAtAScaledFrequencyKeepsTheHostRate() throws {
    var def = VMDefinition(name: Array("t".utf8))
    def.memoryMiB = 64
    def.timeMode = .trapped
    def.timeFrequency = 100_000_000
    let board = try plan(def, linuxImage()).board
    #expect(board.timerPPIs.clockFrequency == nil)
    #expect(board.timerPPIs.physicalOnly)
  }

  /// A bare-metal guest at a scaled frequency is told it in the device tree (and CNTFRQ_EL0).
  @Test func bareMetalAtAScaledFrequencyIsToldIt() throws {
    var def = VMDefinition(name: Array("t".utf8))
    def.memoryMiB = 64
    def.timeMode = .trapped
    def.timeFrequency = 100_000_000
    def.loadAddress = VMPlan.ramBase
    let board = try plan(def, [UInt8](repeating: 0x1F, count: 4096)).board
    #expect(board.timerPPIs.clockFrequency == 100_000_000)
    #expect(VMPlan.scaledCounterFrequency(def, hostCounterHz: 62_500_000) == 100_000_000)
    def.timeMode = .passthrough
    #expect(VMPlan.scaledCounterFrequency(def, hostCounterHz: 62_500_000) == nil)
  }
}

@Suite struct StopReportTests {
  @Test func reasonExitsAndCPUTime() {
    var exits = ExitCounters()
    exits.hvc = 2
    let lines = StatusText.stopReport("web", reason: "poweroff", exits: exits, cpuTicks: 125_000, hz: 62_500_000)
    #expect(lines == ["web: stopped: poweroff", "web: exits " + exits.summary, "web: cpu 2 ms (ticks 125000)"])
  }
}

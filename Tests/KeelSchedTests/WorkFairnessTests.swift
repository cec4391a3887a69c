import Testing
import KeelSched

/// Shares must buy work, not only CPU time. A vCPU switched onto a CPU after another VM's pays
/// a fixed cost that is charged to it (its TLB is cold; ≈1 ms under QEMU, which flushes it when
/// VTTBR_EL2 changes). Two VMs alternating on one CPU switch in equally often whatever their
/// shares, so the cost eats more of the smaller VM's time the shorter the slices are.
@Suite struct WorkFairnessTests {
  /// Work done by each VM over 10 s: CPU time charged, less `switchCost` per switch-in.
  func workRatio(_ tuning: SchedulerTuning, switchCostMicroseconds: UInt64 = 1000) throws -> (work: Double, cpu: Double) {
    var configuration = makeConfiguration(cpus: 1, vms: [vm("high", shares: .custom(2000)), vm("normal", shares: .custom(1000))])
    configuration.tuning = tuning
    var sim = try Simulator(configuration, behaviours: [.cpuBound, .cpuBound])
    sim.run(for: sim.ticks(milliseconds: 1000))
    let charged0 = (0..<2).map { sim.scheduler.consumedTicks(of: VCPUID($0)) }, switches0 = sim.switchIns
    sim.run(for: sim.ticks(milliseconds: 10_000))
    let cost = sim.ticks(microseconds: switchCostMicroseconds)
    let charged = (0..<2).map { Double(sim.scheduler.consumedTicks(of: VCPUID($0)) - charged0[$0]) }
    let work = (0..<2).map { charged[$0] - Double(UInt64(sim.switchIns[$0] - switches0[$0]) * cost) }
    return (work[0] / work[1], charged[0] / charged[1])
  }

  /// The model behind bench/shares-work.sh: CPU time follows the shares exactly, switch-ins do
  /// not, so work does not; the hypervisor's longer slices shrink the bias.
  @Test func switchInCostBiasesWorkAgainstTheSmallerShare() throws {
    let hz: UInt64 = 62_500_000
    let fine = try workRatio(.defaults(ticksPerSecond: hz))
    let long = try workRatio(.hypervisor(ticksPerSecond: hz))
    #expect(abs(fine.cpu - 2) < 0.02 && abs(long.cpu - 2) < 0.02, "\(fine) \(long)")
    // 4 ms slices: the smaller VM loses a quarter of each stint (measured in guests: 2.36:1).
    #expect(fine.work > 2.25, "\(fine)")
    #expect(abs(long.work - 2) <= 0.1, "\(long)")
  }
}

/// The hypervisor's tuning keeps what the fine-grained one guarantees over whole seconds.
@Suite struct HypervisorTuningTests {
  @Test func reservationInsideACappedGroupHolds() throws {
    let groups = [ResourceGroupSpec(name: "solo", parent: nil, allocation: CPUAllocation(maxMHz: 1000)),
                  ResourceGroupSpec(name: "busy", parent: nil, allocation: CPUAllocation(maxMHz: 1000))]
    var config = makeConfiguration(cpus: 2, groups: groups, vms: [
      vm("capped", group: 0, max: 300), vm("reserved", group: 1, shares: .low, min: 600), vm("o1", group: 1), vm("o2", group: 1),
    ])
    config.tuning = .hypervisor(ticksPerSecond: 62_500_000)
    var sim = try Simulator(config, behaviours: [.cpuBound, .cpuBound, .cpuBound, .cpuBound])
    let windows = sim.measureVCPUWindows(count: 3, length: 62_500_000)
    for w in windows {
      #expect(abs(w[0] - 0.3) < 0.01, "capped \(w)")
      #expect(w[1] >= 0.58, "reserved \(w)")
      // A window boundary may cut a 60 ms period: one window can see a little more.
      #expect(w[1] + w[2] + w[3] <= 1.03, "group cap \(w)")
    }
    let total = windows.map { $0[1] + $0[2] + $0[3] }.reduce(0, +) / Double(windows.count)
    #expect(total <= 1.0 + 0.01, "group cap over 3 s: \(total)")
  }

  @Test func sharesSplitOneCPU() throws {
    var config = makeConfiguration(cpus: 1, vms: [vm("a", shares: .custom(2000)), vm("b", shares: .custom(1000))])
    config.tuning = .hypervisor(ticksPerSecond: 62_500_000)
    var sim = try Simulator(config, behaviours: [.cpuBound, .cpuBound])
    // Over seconds, not one: a second holds only 50 slices of 20 ms, split 34:16 or 33:17.
    let windows = sim.measureVCPUWindows(count: 1, length: 4 * 62_500_000)
    for w in windows { #expect(abs(w[0] / w[1] - 2) < 0.02, "\(w)") }
  }
}

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
  /// not, so work does not. Longer slices shrink the bias (not adopted: they cost reservations
  /// their precision, see the issue 9 note).
  @Test func switchInCostBiasesWorkAgainstTheSmallerShare() throws {
    let hz: UInt64 = 62_500_000
    let fine = try workRatio(.defaults(ticksPerSecond: hz))
    var coarse = SchedulerTuning.defaults(ticksPerSecond: hz)
    coarse.timeSlice = 20 * hz / 1000
    let long = try workRatio(coarse)
    #expect(abs(fine.cpu - 2) < 0.02 && abs(long.cpu - 2) < 0.02, "\(fine) \(long)")
    // 4 ms slices: the smaller VM loses a quarter of each stint (measured in guests: 2.36:1).
    #expect(fine.work > 2.25, "\(fine)")
    #expect(abs(long.work - 2) <= 0.1, "\(long)")
  }
}

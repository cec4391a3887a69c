import Testing
@testable import KeelSched

/// Measured figures go to stdout so runs can be quoted in notes.
func report(_ label: String, _ values: [Double]) {
  print("[KeelSched] \(label): " + values.map { String(Int(($0 * 1000).rounded())) + "‰" }.joined(separator: " "))
}

let tenSeconds: UInt64 = 10 * 62_500_000

@Test func sharesTwoToOneOnOneCPU() throws {
  let config = makeConfiguration(cpus: 1, vms: [vm("a", shares: .custom(2000)), vm("b", shares: .custom(1000))])
  var sim = try Simulator(config, behaviours: [.cpuBound, .cpuBound])
  let use = sim.measureVMs(for: tenSeconds)
  report("shares 2:1 on 1 CPU", use)
  let ratio = use[0] / use[1]
  #expect(ratio > 1.8 && ratio < 2.2, "ratio \(ratio)")
  #expect(use[0] + use[1] > 0.999, "the CPU must not idle while work is runnable")
}

@Test func sharesTwoToOneWithTwoVCPUsOnTwoCPUs() throws {
  let config = makeConfiguration(cpus: 2, vms: [vm("a", vcpus: 2, shares: .high), vm("b", vcpus: 2, shares: .normal)])
  var sim = try Simulator(config, behaviours: [.cpuBound, .cpuBound, .cpuBound, .cpuBound])
  let use = sim.measureVMs(for: tenSeconds)
  report("shares 2:1, 2x2 vCPUs on 2 CPUs", use)
  let ratio = use[0] / use[1]
  #expect(ratio > 1.8 && ratio < 2.2, "ratio \(ratio)")
  #expect(use[0] + use[1] > 1.998)
}

@Test func sharesCannotGiveAOneVCPUVMMoreThanOneCPU() throws {
  let config = makeConfiguration(cpus: 2, vms: [vm("a", shares: .high), vm("b", shares: .low)])
  var sim = try Simulator(config, behaviours: [.cpuBound, .cpuBound])
  let use = sim.measureVMs(for: tenSeconds / 10)
  report("shares 4:1, 1 vCPU each on 2 CPUs", use)
  #expect(use[0] > 0.999 && use[1] > 0.999)
}

@Test func limitHoldsOnIdleHost() throws {
  let config = makeConfiguration(cpus: 2, vms: [vm("capped", max: 500)])
  var sim = try Simulator(config, behaviours: [.cpuBound])
  let windows = sim.measureVCPUWindows(count: 100, length: 62_500_000 / 10)   // 100 ms windows
  let worst = windows.map { $0[0] }.max()!
  let total = windows.map { $0[0] }.reduce(0, +) / Double(windows.count)
  report("max 50% on idle 2-CPU host: mean, worst 100ms window", [total, worst])
  #expect(worst <= 0.5 + 1e-9, "capped VM got \(worst) of a CPU in a 100 ms window")
  #expect(total > 0.49, "the cap must not over-throttle")
}

@Test func limitHoldsAcrossVCPUsAndForGroups() throws {
  let groups = [ResourceGroupSpec(name: "host", parent: nil),
                ResourceGroupSpec(name: "capped", parent: GroupID(0), allocation: CPUAllocation(maxMHz: 1500))]
  let config = makeConfiguration(cpus: 4, groups: groups, vms: [
    vm("wide", vcpus: 4, max: 1000), vm("g1", vcpus: 2, group: 1), vm("g2", vcpus: 2, group: 1),
  ])
  var sim = try Simulator(config, behaviours: [Behaviour](repeating: .cpuBound, count: 8))
  sim.run(for: 62_500_000 / 10)
  let use = sim.measureVMs(for: tenSeconds / 2)
  report("4 CPUs: VM max 1000 (4 vCPUs), group max 1500 (2 VMs x 2 vCPUs)", use)
  #expect(use[0] <= 1.0 + 1e-3 && use[0] > 0.98)
  #expect(use[1] + use[2] <= 1.5 + 1e-3 && use[1] + use[2] > 1.47)
  #expect(abs(use[1] - use[2]) < 0.05)
}

@Test func reservationHoldsUnderContention() throws {
  let config = makeConfiguration(cpus: 1, vms: [
    vm("reserved", min: 600), vm("b", shares: .high), vm("c", shares: .high), vm("d", shares: .high),
  ])
  var sim = try Simulator(config, behaviours: [.cpuBound, .cpuBound, .cpuBound, .cpuBound])
  let windows = sim.measureVCPUWindows(count: 10, length: 62_500_000)
  let reserved = windows.map { $0[0] }
  report("min 60% vs 3 high-share VMs on 1 CPU, per 1 s", reserved)
  report("  the others over the last second", Array(windows.last![1...]))
  #expect(reserved.allSatisfy { $0 >= 0.6 }, "reservation not met in some second: \(reserved)")
  let others = windows.last!
  #expect(abs(others[1] - others[2]) < 0.02 && abs(others[2] - others[3]) < 0.02)
}

@Test func reservationHoldsOnTwoCPUs() throws {
  let config = makeConfiguration(cpus: 2, vms: [
    vm("reserved", vcpus: 2, min: 1200), vm("b", vcpus: 2, shares: .high), vm("c", vcpus: 2, shares: .high),
  ])
  var sim = try Simulator(config, behaviours: [Behaviour](repeating: .cpuBound, count: 6))
  let use = sim.measureVMs(for: tenSeconds)
  report("min 1200 MHz (2 vCPUs) vs 2 high VMs on 2 CPUs", use)
  #expect(use[0] >= 1.2 - 0.005)
}

@Test func hierarchySplitsBetweenGroupsFirst() throws {
  let groups = [ResourceGroupSpec(name: "host", parent: nil),
                ResourceGroupSpec(name: "one", parent: GroupID(0)),
                ResourceGroupSpec(name: "three", parent: GroupID(0))]
  let config = makeConfiguration(cpus: 1, groups: groups, vms: [
    vm("solo", group: 1), vm("x", group: 2), vm("y", group: 2), vm("z", group: 2),
  ])
  var sim = try Simulator(config, behaviours: [.cpuBound, .cpuBound, .cpuBound, .cpuBound])
  let use = sim.measureVMs(for: tenSeconds)
  report("groups 1:1 holding 1 and 3 VMs on 1 CPU", use)
  #expect(abs(use[0] - 0.5) < 0.02)
  for i in 1...3 { #expect(abs(use[i] - 1.0 / 6) < 0.02) }
}

@Test func virtualHostsCompeteByRootShares() throws {
  let groups = [ResourceGroupSpec(name: "tenantA", parent: nil, allocation: CPUAllocation(shares: .high)),
                ResourceGroupSpec(name: "tenantB", parent: nil, allocation: CPUAllocation(shares: .normal)),
                ResourceGroupSpec(name: "tenantB-batch", parent: GroupID(1), allocation: CPUAllocation(shares: .low))]
  let config = makeConfiguration(cpus: 2, groups: groups, vms: [
    vm("web", vcpus: 2, group: 0),
    vm("web", vcpus: 2, group: 1),              // same name, other tenant: allowed
    vm("batch", vcpus: 2, group: 2, shares: .high),
  ])
  var sim = try Simulator(config, behaviours: [Behaviour](repeating: .cpuBound, count: 6))
  let use = sim.measureVMs(for: tenSeconds)
  report("tenants high:normal on 2 CPUs; B = vm(2000) + pool(low=2000)", use)
  // Tenant A: 2/3 of 2 CPUs. Tenant B's 2/3 CPU splits 1:1 between its VM and its pool.
  #expect(abs(use[0] - 4.0 / 3) < 0.03)
  #expect(abs(use[1] - 1.0 / 3) < 0.03)
  #expect(abs(use[2] - 1.0 / 3) < 0.03)
  #expect(sim.scheduler.virtualHost(of: VMID(2)) == GroupID(1))
}

@Test func threeVMsWithTwoVCPUsOnTwoCPUsAllProgress() throws {
  let config = makeConfiguration(cpus: 2, vms: [vm("a", vcpus: 2), vm("b", vcpus: 2), vm("c", vcpus: 2)])
  var sim = try Simulator(config, behaviours: [Behaviour](repeating: .cpuBound, count: 6))
  let windows = sim.measureVCPUWindows(count: 100, length: 62_500_000 / 10)
  let perVCPU = (0..<6).map { v in windows.map { $0[v] }.reduce(0, +) / Double(windows.count) }
  let worstWindow = windows.flatMap { $0 }.min()!
  report("3 VMs x 2 vCPUs on 2 CPUs, per vCPU", perVCPU)
  report("  worst vCPU share in any 100 ms window", [worstWindow])
  for share in perVCPU { #expect(abs(share - 1.0 / 3) < 0.02) }
  #expect(worstWindow > 0.25, "a vCPU nearly starved in some 100 ms window")
  print("[KeelSched]   dispatches \(sim.dispatches), migrations \(sim.migrations) in 10 s")
}

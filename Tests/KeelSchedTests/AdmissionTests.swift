import Testing
@testable import KeelSched

private let host = ResourceGroupSpec(name: "host", parent: nil)

private func admissionError(_ config: SchedulerConfiguration) -> AdmissionError? {
  do throws(AdmissionError) {
    try config.validate()
    return nil
  } catch {
    return error
  }
}

@Test func validConfigurationIsAdmitted() throws {
  let groups = [host, ResourceGroupSpec(name: "prod", parent: GroupID(0), allocation: CPUAllocation(minMHz: 1000, maxMHz: 1800))]
  let config = makeConfiguration(cpus: 2, groups: groups, vms: [vm("a", vcpus: 2, group: 1, min: 600), vm("b", min: 400)])
  #expect(admissionError(config) == nil)
  #expect(throws: Never.self) { _ = try Scheduler(configuration: config) }
}

@Test func reservationsAboveCapacityAreRejected() {
  let config = makeConfiguration(cpus: 2, vms: [vm("a", min: 900), vm("b", min: 900), vm("c", min: 300)])
  #expect(admissionError(config) == .reservationsExceedCapacity(reservedMHz: 2100, capacityMHz: 2000))
}

@Test func reservationsAcrossVirtualHostsShareTheMachine() {
  let groups = [ResourceGroupSpec(name: "t1", parent: nil, allocation: CPUAllocation(minMHz: 1500)),
                ResourceGroupSpec(name: "t2", parent: nil, allocation: CPUAllocation(minMHz: 600))]
  #expect(admissionError(makeConfiguration(cpus: 2, groups: groups, vms: []))
          == .reservationsExceedCapacity(reservedMHz: 2100, capacityMHz: 2000))
}

@Test func childReservationsMustFitANonExpandableGroup() {
  let groups = [host, ResourceGroupSpec(name: "fixed", parent: GroupID(0), allocation: CPUAllocation(minMHz: 500),
                                        expandableReservation: false)]
  let config = makeConfiguration(cpus: 2, groups: groups, vms: [vm("a", group: 1, min: 300), vm("b", group: 1, min: 300)])
  #expect(admissionError(config) == .childReservationsExceedGroup(group: GroupID(1), name: "fixed", childrenMHz: 600, groupMHz: 500))
}

@Test func expandableGroupBorrowsButNotBeyondItsLimit() {
  let groups = [host, ResourceGroupSpec(name: "capped", parent: GroupID(0), allocation: CPUAllocation(minMHz: 100, maxMHz: 500))]
  let ok = makeConfiguration(cpus: 2, groups: groups, vms: [vm("a", group: 1, min: 250), vm("b", group: 1, min: 250)])
  #expect(admissionError(ok) == nil)
  let tooMuch = makeConfiguration(cpus: 2, groups: groups, vms: [vm("a", group: 1, min: 300), vm("b", group: 1, min: 300)])
  #expect(admissionError(tooMuch) == .reservationAboveGroupLimit(group: GroupID(1), name: "capped", reservedMHz: 600, maxMHz: 500))
}

@Test func unknownGroupsAndCyclesAreRejected() {
  #expect(admissionError(makeConfiguration(cpus: 1, vms: [vm("lost", group: 3)]))
          == .unknownGroup(vm: VMID(0), name: "lost", group: GroupID(3)))
  let orphan = [host, ResourceGroupSpec(name: "orphan", parent: GroupID(9))]
  #expect(admissionError(makeConfiguration(cpus: 1, groups: orphan, vms: []))
          == .unknownParentGroup(group: GroupID(1), name: "orphan", parent: GroupID(9)))
  let loop = [host, ResourceGroupSpec(name: "x", parent: GroupID(2)), ResourceGroupSpec(name: "y", parent: GroupID(1))]
  #expect(admissionError(makeConfiguration(cpus: 1, groups: loop, vms: [])) == .groupCycle(group: GroupID(1), name: "x"))
  let selfLoop = [ResourceGroupSpec(name: "me", parent: GroupID(0))]
  #expect(admissionError(makeConfiguration(cpus: 1, groups: selfLoop, vms: [])) == .groupCycle(group: GroupID(0), name: "me"))
}

@Test func perEntityValuesAreChecked() {
  #expect(admissionError(makeConfiguration(cpus: 2, vms: [vm("inverted", min: 800, max: 500)]))
          == .limitBelowReservation(.vm(VMID(0)), name: "inverted", minMHz: 800, maxMHz: 500))
  let badGroup = [host, ResourceGroupSpec(name: "g", parent: GroupID(0), allocation: CPUAllocation(minMHz: 10, maxMHz: 5))]
  #expect(admissionError(makeConfiguration(cpus: 2, groups: badGroup, vms: []))
          == .limitBelowReservation(.group(GroupID(1)), name: "g", minMHz: 10, maxMHz: 5))
  #expect(admissionError(makeConfiguration(cpus: 4, vms: [vm("one-vcpu", min: 1500)]))
          == .reservationAboveVCPUs(vm: VMID(0), name: "one-vcpu", minMHz: 1500, usableMHz: 1000))
  #expect(admissionError(makeConfiguration(cpus: 4, vms: [vm("wide", vcpus: 9)]))
          == .invalidVCPUCount(vm: VMID(0), name: "wide", count: 9))
  #expect(admissionError(makeConfiguration(cpus: 4, vms: [vm("none", vcpus: 0)]))
          == .invalidVCPUCount(vm: VMID(0), name: "none", count: 0))
  #expect(admissionError(makeConfiguration(cpus: 4, vms: [vm("zero", shares: .custom(0))]))
          == .invalidShares(.vm(VMID(0)), name: "zero", shares: 0))
  #expect(admissionError(makeConfiguration(cpus: 4, vms: [vm("dup"), vm("dup")]))
          == .duplicateVMName(vm: VMID(1), name: "dup", other: VMID(0)))
  #expect(admissionError(makeConfiguration(cpus: 0, vms: [])) == .noHostCPUs)
  #expect(admissionError(makeConfiguration(cpus: 65, vms: [])) == .tooManyHostCPUs(count: 65, limit: 64))
}

@Test func sharesFollowESXiLevels() {
  #expect(Shares.low.value(forVCPUs: 2) == 1000)
  #expect(Shares.normal.value(forVCPUs: 2) == 2000)
  #expect(Shares.high.value(forVCPUs: 2) == 4000)
  #expect(Shares.custom(3000).value(forVCPUs: 8) == 3000)
  #expect(Shares.normal.groupValue == 4000)
}

@Test func reservationInsideAGroupHoldsAgainstSiblings() throws {
  // Group "gold" (normal shares) holds a VM with a reservation of 70%; its sibling group has
  // three high-share VMs. The reservation lifts gold above its share split.
  let groups = [host, ResourceGroupSpec(name: "gold", parent: GroupID(0)),
                ResourceGroupSpec(name: "bulk", parent: GroupID(0), allocation: CPUAllocation(shares: .high))]
  let config = makeConfiguration(cpus: 1, groups: groups, vms: [
    vm("critical", group: 1, min: 700), vm("helper", group: 1),
    vm("b1", group: 2, shares: .high), vm("b2", group: 2, shares: .high),
  ])
  var sim = try Simulator(config, behaviours: [.cpuBound, .cpuBound, .cpuBound, .cpuBound])
  let use = sim.measureVMs(for: tenSeconds)
  report("reservation 70% inside a normal group vs a high group on 1 CPU", use)
  #expect(use[0] >= 0.7)
  #expect(abs(use[2] - use[3]) < 0.02)
}

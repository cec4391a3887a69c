import KeelSched

/// The machine-wide CPU resources of a run: the CPU unit and the resource-group forest whose
/// roots are the virtual hosts. The configuration module carries it to the hypervisor, and
/// `admit` checks it with the hypervisor's own admission control before anything starts.
public struct HostResources: Equatable, Sendable {
  /// A resource group (ESXi resource pool); one without a parent is a virtual host.
  public struct Group: Equatable, Sendable {
    /// The configuration module's name: `<vhost>` for a virtual host, `<vhost>/<pool>` for a pool
    /// (pools are named per virtual host, module names are machine-wide).
    public var name: String
    public var parent: String?
    public var shares: VMConfiguration.CPUShares
    public var cpuMinMHz: Int?
    public var cpuMaxMHz: Int?
    public var expandableReservation: Bool

    public init(name: String, parent: String? = nil, shares: VMConfiguration.CPUShares = .normal, cpuMinMHz: Int? = nil,
                cpuMaxMHz: Int? = nil, expandableReservation: Bool = true) {
      self.name = name; self.parent = parent; self.shares = shares; self.cpuMinMHz = cpuMinMHz
      self.cpuMaxMHz = cpuMaxMHz; self.expandableReservation = expandableReservation
    }
  }

  public static let defaultCPUMHz = 1000
  /// MHz-equivalent of one host CPU, the unit of every reservation and limit.
  public var cpuMHz: Int
  /// Parents before children, the order the configuration module needs.
  public var groups: [Group]

  public init(cpuMHz: Int = defaultCPUMHz, groups: [Group] = []) { self.cpuMHz = cpuMHz; self.groups = groups }
}

extension VMConfiguration.CPUShares {
  /// KeelSched's shares, whose values (500/1000/2000 per vCPU, 2000/4000/8000 per group) are ESXi's.
  var scheduler: Shares {
    switch self {
    case .low: return .low
    case .normal: return .normal
    case .high: return .high
    // Out-of-range counts stay out of range, so admission names them.
    case .custom(let n): return .custom(UInt32(clamping: n))
    }
  }
}

/// A configuration the hypervisor's admission control refuses, as one line naming the VM or group.
public struct AdmissionProblem: Error, Equatable, Sendable, CustomStringConvertible {
  public var description: String
}

extension HostResources {
  /// Admission control for `vms` on `hostCPUs` CPUs of `cpuMHz` each. A VM without a group is in
  /// the implicit virtual host (a run without `--host`); a VM whose group is not in `groups` is refused.
  public func admit(_ vms: [VMConfiguration], hostCPUs: Int) throws(AdmissionProblem) {
    // An undeclared name gets an index no group has, so admission reports it (not the implicit root's).
    let unknown = Int(UInt16.max - 1)
    var specs = groups.map { group in
      ResourceGroupSpec(
        name: group.name, parent: group.parent.map { parent in GroupID(groups.firstIndex { $0.name == parent } ?? unknown) },
        allocation: Self.allocation(group.shares.scheduler, group.cpuMinMHz, group.cpuMaxMHz),
        expandableReservation: group.expandableReservation)
    }
    let implicit = specs.count
    if vms.contains(where: { $0.group == nil }) { specs.append(ResourceGroupSpec(name: "(host)", parent: nil)) }
    let vmSpecs = vms.map { vm in
      VMSpec(
        name: vm.name, group: GroupID(vm.group.map { name in groups.firstIndex { $0.name == name } ?? unknown } ?? implicit),
        vcpuCount: vm.cpus, allocation: Self.allocation((vm.cpuShares ?? .normal).scheduler, vm.cpuMinMHz, vm.cpuMaxMHz))
    }
    // The counter frequency only matters for the scheduler's tuning, not for admission.
    let configuration = SchedulerConfiguration(
      hostCPUCount: hostCPUs, mhzPerCPU: UInt32(clamping: cpuMHz), ticksPerSecond: RunLimits.hostCounterHz, groups: specs, vms: vmSpecs)
    do {
      try configuration.validate()
    } catch {
      throw AdmissionProblem(description: message(error, vms: vms, specs: specs, vmSpecs: vmSpecs, hostCPUs: hostCPUs))
    }
  }

  static func allocation(_ shares: Shares, _ min: Int?, _ max: Int?) -> CPUAllocation {
    CPUAllocation(shares: shares, minMHz: UInt32(clamping: min ?? 0), maxMHz: max.map { UInt32(clamping: $0) })
  }

  private func message(_ error: AdmissionError, vms: [VMConfiguration], specs: [ResourceGroupSpec], vmSpecs: [VMSpec], hostCPUs: Int) -> String {
    func subject(_ s: SchedSubject, _ name: String) -> (String, String) {
      switch s {
      case .vm: return ("VM \(name)", "sched.cpu.")
      case .group: return ("resource group \(name)", "cpu.")
      }
    }
    switch error {
    case .noHostCPUs, .tooManyHostCPUs:
      return "the machine needs 1 to \(SchedulerConfiguration.maximumHostCPUs) host CPUs (got \(hostCPUs))"
    case .invalidClock: return "host.cpuMHz must be at least 1"
    case .invalidTuning: return "the scheduler's tuning is invalid"
    case .tooManyEntities(let g, let v): return "\(g) resource groups and \(v) vCPUs are more than the scheduler can hold"
    case .unknownParentGroup(_, let name, _): return "resource group \(name): its parent is not declared"
    case .groupCycle(_, let name): return "resource group \(name): its chain of parents loops back to it"
    case .unknownGroup(let vm, let name, _):
      return "VM \(name): unknown resource group \(quoted(vms[vm.index].group ?? ""))"
    case .invalidVCPUCount(_, let name, let count):
      return "VM \(name): \(count) vCPUs is out of range (1…\(SchedulerConfiguration.maximumVCPUsPerVM))"
    case .invalidShares(let s, let name, let shares):
      return "\(subject(s, name).0): \(shares) shares is out of range (1…\(Shares.maximumCustom))"
    case .limitBelowReservation(let s, let name, let min, let max):
      let (what, key) = subject(s, name)
      return "\(what): \(key)min \(min) MHz is above \(key)max \(max) MHz"
    case .reservationAboveVCPUs(_, let name, let min, let usable):
      return "VM \(name) reserves \(min) MHz (sched.cpu.min) but its vCPUs can use at most \(usable) MHz (\(cpuMHz) MHz per vCPU, \(hostCPUs) host CPUs)"
    case .childReservationsExceedGroup(_, let name, let children, let own):
      return "resource group \(name) is not expandable, but what it contains reserves \(children) MHz, more than its own cpu.min of \(own) MHz"
    case .reservationAboveGroupLimit(_, let name, let reserved, let max):
      return "resource group \(name): the reservations in it total \(reserved) MHz, above its cpu.max of \(max) MHz"
    case .reservationsExceedCapacity(let reserved, let capacity):
      // Name who reserves what at the top level, so the user knows where to cut.
      func reservation(group: Int) -> UInt64 {
        let children = specs.indices.filter { specs[$0].parent?.index == group }.map { reservation(group: $0) }
          + vmSpecs.filter { $0.group.index == group }.map { UInt64($0.allocation.minMHz) }
        return max(UInt64(specs[group].allocation.minMHz), children.reduce(0, +))
      }
      var parts: [String] = []
      for (index, group) in specs.enumerated() where group.parent == nil {
        if group.name == "(host)" {
          parts += vmSpecs.filter { $0.group.index == index && $0.allocation.minMHz > 0 }.map { "\($0.name) \($0.allocation.minMHz)" }
        } else if case let r = reservation(group: index), r > 0 {
          parts.append("\(group.name) \(r)")
        }
      }
      return "CPU reservations total \(reserved) MHz (\(parts.joined(separator: ", "))) but the machine has \(capacity) MHz (\(hostCPUs) host CPUs × \(cpuMHz) MHz); lower cpu.min or raise --host-cpus"
    case .duplicateVMName(_, let name, _): return "two VMs are named \(quoted(name))"
    }
  }
}

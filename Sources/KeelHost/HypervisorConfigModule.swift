import KeelVM

/// String forms of the protocols' one escaping codec (KeelVM's `ProtocolEscaping`).
extension ProtocolEscaping {
  public static func escape(_ value: String) -> String { String(decoding: escape(Array(value.utf8)), as: UTF8.self) }
  public static func unescape(_ text: String) -> String { String(decoding: unescape(Array(text.utf8)), as: UTF8.self) }
  public static func forbiddenByte(in value: String) -> UInt8? { forbiddenByte(in: value.utf8) }
}

/// The text file `keel run` loads next to the hypervisor to describe the VMs (protocols.md,
/// "Hypervisor configuration module"). Kernels and initrds are referred to by load address. The
/// writing side of KeelVM's `ConfigurationModule` (the hypervisor holds the reading side).
extension ConfigurationModule {
  public enum Problem: Error, Equatable, CustomStringConvertible {
    case tooLarge(Int)
    public var description: String {
      switch self {
      case .tooLarge(let size): return "the hypervisor configuration is \(size) bytes; at most \(maxSize) fit (less guestinfo?)"
      }
    }
  }

  /// - Parameter resources: the CPU unit and resource groups; a VM's `group` is a module group name.
  public static func text(vms: [VMConfiguration], layout: MachineLayout, resources: HostResources = HostResources()) -> String {
    var lines = ["# keel hypervisor configuration v1", "cpu-mhz \(resources.cpuMHz)"]
    // Groups come first and parents before children: the parser checks every reference backwards.
    for group in resources.groups {
      lines.append("group \(group.name)")
      if let parent = group.parent { lines.append("parent \(parent)") }
      lines.append("shares \(group.shares.scheduler.groupValue)")
      if let min = group.cpuMinMHz { lines.append("cpu.min \(min)") }
      if let max = group.cpuMaxMHz { lines.append("cpu.max \(max)") }
      lines.append("expandable \(group.expandableReservation ? "yes" : "no")")
      lines.append("end")
    }
    for (index, vm) in vms.enumerated() {
      lines.append("vm \(vm.name)")
      lines.append("cpus \(vm.cpus)")
      lines.append("memory \(vm.memoryMiB)")
      lines.append("kernel \(hex(layout.kernelAddresses[index]))")
      if let initrd = layout.initrdAddresses[index] { lines.append("initrd \(hex(initrd))") }
      if let load = vm.loadAddress { lines.append("load \(hex(load))") }
      if vm.timeMode != .passthrough { lines.append("time.mode \(vm.timeMode.rawValue)") }
      if let hz = vm.timeFrequencyHz { lines.append("time.frequency \(hz)") }
      if let node = vm.hypervisorNode { lines.append("hypervisor-node \(node)") }
      if let group = vm.group { lines.append("group \(group)") }
      // Levels are resolved here (per vCPU), so the hypervisor only ever sees share counts.
      if let shares = vm.cpuShares { lines.append("shares \(shares.scheduler.value(forVCPUs: vm.cpus))") }
      if let min = vm.cpuMinMHz { lines.append("cpu.min \(min)") }
      if let max = vm.cpuMaxMHz { lines.append("cpu.max \(max)") }
      for entry in vm.guestInfo {
        let value = ProtocolEscaping.escape(entry.value)
        lines.append(value.isEmpty ? "guestinfo \(entry.key)" : "guestinfo \(entry.key) \(value)")
      }
      lines.append("end")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The file as loaded: UTF-8 with a terminating NUL.
  public static func bytes(vms: [VMConfiguration], layout: MachineLayout, resources: HostResources = HostResources()) throws(ConfigurationModule.Problem) -> [UInt8] {
    let bytes = Array(text(vms: vms, layout: layout, resources: resources).utf8) + [0]
    guard bytes.count <= maxSize else { throw .tooLarge(bytes.count) }
    return bytes
  }
}

/// Where everything sits in the emulated machine's RAM for a run of several VMs: the hypervisor
/// below 0x4400_0000, then each VM's kernel and initrd blobs on 2 MiB boundaries in VM order,
/// then the configuration module, then room for all guests' RAM.
public struct MachineLayout: Equatable, Sendable {
  public struct Blobs: Equatable, Sendable {
    public var kernelSize: UInt64
    public var initrdSize: UInt64?
    public var memoryMiB: Int
    public init(kernelSize: UInt64, initrdSize: UInt64?, memoryMiB: Int) {
      self.kernelSize = kernelSize; self.initrdSize = initrdSize; self.memoryMiB = memoryMiB
    }
  }

  public private(set) var kernelAddresses: [UInt64] = []
  public private(set) var initrdAddresses: [UInt64?] = []
  public private(set) var configAddress: UInt64 = 0
  public private(set) var hostMemoryMiB: Int = 0

  public init(vms: [Blobs]) {
    var next = RunLimits.kernelBlobAddress
    for vm in vms {
      kernelAddresses.append(next)
      next += HostLayout.roundUp(vm.kernelSize)
      if let size = vm.initrdSize {
        initrdAddresses.append(next)
        next += HostLayout.roundUp(size)
      } else {
        initrdAddresses.append(nil)
      }
    }
    configAddress = next
    next += HostLayout.roundUp(UInt64(ConfigurationModule.maxSize))
    let blobsMiB = Int((next - RunLimits.kernelBlobAddress) >> 20)
    let guestsMiB = vms.reduce(0) { $0 + $1.memoryMiB }
    hostMemoryMiB = RunLimits.hostReserveMiB + blobsMiB + guestsMiB + RunLimits.hostReserveMiB
  }
}

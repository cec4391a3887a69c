import KeelArch
import KeelFDT
import KeelLoader

/// Why the hypervisor has nothing to run: it stops the machine with this.
public enum MachineDefinitionError: Error, Equatable, Sendable, CustomStringConvertible {
  case configuration(address: UInt64, ConfigurationError)
  case noVM(configurationAt: UInt64)
  case noKernel

  public var description: String {
    switch self {
    case .configuration(let address, let error): return "configuration at 0x\(String(address, radix: 16)): \(error.description)"
    case .noVM(let address): return "configuration at 0x\(String(address, radix: 16)) defines no VM"
    case .noKernel: return "no guest kernel: pass one with -device guest-loader,kernel=..."
    }
  }
}

extension BootArguments {
  /// The VMs to build and how they share the CPUs: from the configuration module the `keel` CLI
  /// loads (`keel.config=0x…`), or, without one, a single VM from `keel.cpus=`/`keel.memory=`/
  /// `keel.load=` and the first kernel module. `text` gives the configuration module's bytes at
  /// a host address (`ConfigurationModule.maxSize` of them at most are read).
  public static func machineDefinition(_ bootargs: String, modules: [GuestModule],
                                       text: (UInt64) -> UnsafeRawBufferPointer) throws(MachineDefinitionError) -> MachineDefinition {
    switch parse(bootargs, modules: modules) {
    case .configurationModule(let address):
      let definition: MachineDefinition
      do throws(ConfigurationError) {
        definition = try ConfigurationModule.parseMachine(text(address))
      } catch {
        throw .configuration(address: address, error)
      }
      guard !definition.vms.isEmpty else { throw .noVM(configurationAt: address) }
      return definition
    case .legacy(let vm):
      var definition = MachineDefinition()
      definition.vms = [vm]
      return definition
    case .noKernel:
      throw .noKernel
    }
  }
}

/// Why one VM is not started (the others still are).
public enum VMStartError: Error, Equatable, Sendable, CustomStringConvertible {
  case noKernelModule(at: UInt64?)
  case noInitrdModule(at: UInt64)
  case imageRejected(GuestImageError)
  case noHostMemory(mebibytes: UInt64)

  public var description: String {
    switch self {
    case .noKernelModule(let at): return "no kernel module at 0x\(String(at ?? 0, radix: 16))"
    case .noInitrdModule(let at): return "no initrd module at 0x\(String(at, radix: 16))"
    case .imageRejected(let error): return "guest image rejected: \(error.description)"
    case .noHostMemory(let mib): return "\(mib) MiB of guest RAM do not fit in host memory"
    }
  }
}

/// What a VM boots from, kept so it can be rebooted: the modules stay in host memory, untouched,
/// for as long as the hypervisor runs.
public struct BootImage: Sendable {
  public var plan: GuestImagePlan
  public var layout: GuestBootLayout
  public var kernel: GuestModule
  public var initrd: GuestModule?
  public var dtb: [UInt8]

  public init(plan: GuestImagePlan, layout: GuestBootLayout, kernel: GuestModule, initrd: GuestModule?, dtb: [UInt8]) {
    self.plan = plan; self.layout = layout; self.kernel = kernel; self.initrd = initrd; self.dtb = dtb
  }

  /// One piece of a module that goes into guest RAM at every (re)boot.
  public struct Copy: Equatable, Sendable {
    public var guestAddress: UInt64
    /// Host address of the bytes to copy, and how many.
    public var source: UInt64
    public var length: UInt64
    /// Zeroed bytes after them (an ELF segment's bss).
    public var zeroFill: UInt64
    /// Instructions: the instruction cache must see them.
    public var isCode: Bool

    public init(guestAddress: UInt64, source: UInt64, length: UInt64, zeroFill: UInt64, isCode: Bool) {
      self.guestAddress = guestAddress; self.source = source; self.length = length; self.zeroFill = zeroFill; self.isCode = isCode
    }
  }

  /// The kernel's segments, then the initrd; the DTB (`dtb`, at `layout.dtbAddress`) comes last.
  public var copies: [Copy] {
    var out = plan.segments.map { s in
      Copy(guestAddress: s.guestAddress, source: kernel.region.base + UInt64(s.fileOffset), length: UInt64(s.fileSize),
           zeroFill: s.memorySize - UInt64(s.fileSize), isCode: true)
    }
    if let initrd, let at = layout.initrdAddress {
      out.append(Copy(guestAddress: at, source: initrd.region.base, length: initrd.region.size, zeroFill: 0, isCode: false))
    }
    return out
  }
}

extension VMPlan {
  /// The boot module at `address` (nil: none asked for, or none there).
  public static func module(at address: UInt64?, in modules: [GuestModule]) -> GuestModule? {
    guard let address else { return nil }
    return modules.first(where: { $0.region.base == address })
  }

  /// Finds the definition's kernel and initrd among the boot `modules` and plans the VM;
  /// `bytes` gives a module's contents.
  public static func prepare(_ def: VMDefinition, modules: [GuestModule], gicVersion: GICVersion, hostCounterHz: UInt64, pmu: Bool,
                          bytes: (GuestModule) -> UnsafeRawBufferPointer) throws(VMStartError) -> (plan: VMPlan, image: BootImage) {
    guard let kernel = module(at: def.kernelModule, in: modules) else { throw .noKernelModule(at: def.kernelModule) }
    let initrd = module(at: def.initrdModule, in: modules)
    if let address = def.initrdModule, initrd == nil { throw .noInitrdModule(at: address) }
    let plan: VMPlan
    do throws(GuestImageError) {
      plan = try VMPlan(def, kernel: bytes(kernel), bootargs: kernel.bootargs, initrdSize: initrd?.region.size, gicVersion: gicVersion,
                         hostCounterHz: hostCounterHz, pmu: pmu)
    } catch {
      throw .imageRejected(error)
    }
    return (plan, BootImage(plan: plan.image, layout: plan.layout, kernel: kernel, initrd: initrd, dtb: plan.board.deviceTree()))
  }

  /// The line the hypervisor logs for a VM it built, its RAM at `hostBase`; `counterHz` is the
  /// guest's physical counter frequency (trapped time).
  public func summary(_ def: VMDefinition, name: String, hostBase: UInt64, counterHz: UInt64, initrd: GuestModule?) -> String {
    let format = image.format == .linuxImage ? "Linux Image" : (image.format == .elf ? "ELF" : "raw binary")
    let time = def.timeMode == .trapped ? ", trapped physical counter at \(counterHz) Hz" : ""
    return "\(name): \(def.cpus) vCPUs, \(def.memoryMiB) MiB at host 0x\(String(hostBase, radix: 16)), \(format) entry 0x\(String(image.entry, radix: 16)), DTB 0x\(String(layout.dtbAddress, radix: 16))"
      + (initrd.map { ", initrd \($0.region.size) bytes" } ?? "") + time
  }
}

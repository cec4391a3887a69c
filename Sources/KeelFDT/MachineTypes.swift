import KeelArch

/// The host interrupt controller as the DTB describes it.
public struct HostGIC: Equatable, Sendable {
  public var version: GICVersion
  public var distributor: MemoryRegion
  /// GICv3 redistributor regions (`#redistributor-regions` of them); empty for v2.
  public var redistributors: [MemoryRegion]
  /// GICC. Always present for v2; optional legacy interface for v3.
  public var cpuInterface: MemoryRegion?
  /// GICH, the virtual interface control registers.
  public var hypervisorInterface: MemoryRegion?
  /// GICV, the virtual CPU interface a guest sees as its GICC.
  public var virtualCPUInterface: MemoryRegion?
  /// The virtualization maintenance interrupt, from the GIC node's `interrupts`.
  public var maintenanceINTID: UInt32?
  /// GICv2m MSI frames (children compatible with "arm,gic-v2m-frame").
  public var msiFrames: [MemoryRegion]
  /// GICv3 ITS frames (children compatible with "arm,gic-v3-its").
  public var itsFrames: [MemoryRegion]
  public var phandle: UInt32?

  public init(version: GICVersion, distributor: MemoryRegion, redistributors: [MemoryRegion] = [],
              cpuInterface: MemoryRegion? = nil, hypervisorInterface: MemoryRegion? = nil,
              virtualCPUInterface: MemoryRegion? = nil, maintenanceINTID: UInt32? = nil,
              msiFrames: [MemoryRegion] = [], itsFrames: [MemoryRegion] = [], phandle: UInt32? = nil) {
    self.version = version
    self.distributor = distributor
    self.redistributors = redistributors
    self.cpuInterface = cpuInterface
    self.hypervisorInterface = hypervisorInterface
    self.virtualCPUInterface = virtualCPUInterface
    self.maintenanceINTID = maintenanceINTID
    self.msiFrames = msiFrames
    self.itsFrames = itsFrames
    self.phandle = phandle
  }
}

public struct HostUART: Equatable, Sendable {
  public var base: UInt64
  public var size: UInt64
  public var intid: UInt32?
  public var path: String

  public init(base: UInt64, size: UInt64, intid: UInt32?, path: String) {
    self.base = base
    self.size = size
    self.intid = intid
    self.path = path
  }

  public var region: MemoryRegion { MemoryRegion(base: base, size: size) }
}

/// Generic timer INTIDs in the order of the "arm,armv8-timer" `interrupts` property.
public struct TimerINTIDs: Equatable, Sendable {
  public var securePhysical: UInt32
  public var nonSecurePhysical: UInt32
  public var virtual: UInt32
  public var hypervisorPhysical: UInt32
  /// The EL2 virtual timer (FEAT_VHE), a fifth specifier newer QEMU versions add.
  public var hypervisorVirtual: UInt32?

  public init(securePhysical: UInt32, nonSecurePhysical: UInt32, virtual: UInt32, hypervisorPhysical: UInt32,
              hypervisorVirtual: UInt32? = nil) {
    self.securePhysical = securePhysical
    self.nonSecurePhysical = nonSecurePhysical
    self.virtual = virtual
    self.hypervisorPhysical = hypervisorPhysical
    self.hypervisorVirtual = hypervisorVirtual
  }
}

public enum PSCIConduit: Equatable, Sendable {
  case smc, hvc
}

/// An image QEMU's `-device guest-loader` placed in memory and described under /chosen.
public struct GuestModule: Equatable, Sendable {
  public enum Kind: Equatable, Sendable {
    case kernel, ramdisk, other
  }

  public var kind: Kind
  public var region: MemoryRegion
  /// The module's command line, as bytes: a String parsed from the device tree and kept in
  /// this struct comes out corrupted in the Embedded image when it is short enough to be a
  /// small (inline) string (swiftc 6.3.1; its discriminator is lost, so its length reads as
  /// its first characters). Bytes are stored as they are.
  public var bootargs: [UInt8]?

  public init(kind: Kind, region: MemoryRegion, bootargs: [UInt8]? = nil) {
    self.kind = kind
    self.region = region
    self.bootargs = bootargs
  }
}

import KeelArch
/// The facts the hypervisor needs about the machine it runs on, read from the host DTB.
/// Nothing here is assumed about QEMU `virt`: every address and INTID comes from the tree.
public struct MachineDescription: Equatable, Sendable {
  public var memory: [MemoryRegion]
  /// MPIDR affinity values (the cpu nodes' `reg`), in DT order.
  public var cpus: [UInt64]
  public var gic: HostGIC?
  public var uart: HostUART?
  public var timer: TimerINTIDs?
  public var psci: PSCIConduit?
  public var bootargs: String
  public var modules: [GuestModule]
  /// The memreserve block followed by /reserved-memory children that have a `reg`.
  public var reserved: [MemoryRegion]
  /// A PL031 real-time clock, the host's source of wall-clock time.
  public var rtc: MemoryRegion?

  public init(dtb: UnsafeRawBufferPointer) throws(FDTError) {
    try self.init(tree: FDT(parsing: dtb))
  }

  public init(dtb: [UInt8]) throws(FDTError) {
    try self.init(tree: FDT(parsing: dtb))
  }

  public init(tree: FDT) throws(FDTError) {
    memory = try Self.memory(tree)
    cpus = try Self.cpus(tree)
    gic = try Self.gic(tree)
    uart = try Self.uart(tree)
    timer = try Self.timer(tree)
    psci = try Self.psci(tree)
    bootargs = tree.node(atPath: "/chosen")?.property("bootargs")?.string ?? ""
    modules = try Self.modules(tree)
    reserved = try Self.reserved(tree)
    if let node = tree.nodes(compatibleWith: "arm,pl031").first { rtc = try Self.reg(node).first } else { rtc = nil }
  }
}

extension MachineDescription {
  static let gicV2Compatibles = ["arm,cortex-a15-gic", "arm,gic-400", "arm,cortex-a9-gic"]
  static let gicV3Compatibles = ["arm,gic-v3"]

  static func reg(_ located: FDTLocatedNode) throws(FDTError) -> [MemoryRegion] {
    guard located.node.hasProperty("reg") else { throw .missingProperty(node: located.path, property: "reg") }
    guard let regions = located.reg else { throw .malformedProperty(node: located.path, property: "reg") }
    return regions
  }

  static func memory(_ tree: FDT) throws(FDTError) -> [MemoryRegion] {
    var out: [MemoryRegion] = []
    for child in tree.root.children {
      guard let type = child.property("device_type"), type.containsString("memory"), child.isEnabled else { continue }
      let located = FDTLocatedNode(node: child, path: "/" + child.name, parentAddressCells: tree.root.addressCells,
                                   parentSizeCells: tree.root.sizeCells, interruptParent: nil)
      out += try reg(located)
    }
    return out
  }

  static func cpus(_ tree: FDT) throws(FDTError) -> [UInt64] {
    guard let cpusNode = tree.node(atPath: "/cpus") else { return [] }
    var out: [UInt64] = []
    for child in cpusNode.children {
      guard let type = child.property("device_type"), type.containsString("cpu") else { continue }
      let path = "/cpus/" + child.name
      guard let reg = child.property("reg") else { throw .missingProperty(node: path, property: "reg") }
      let addressCells = cpusNode.addressCells
      guard addressCells >= 1, addressCells <= 2, let cells = reg.cells, cells.count >= Int(addressCells) else {
        throw .malformedProperty(node: path, property: "reg")
      }
      out.append(FDTProperty.number(cells[0..<Int(addressCells)]))
    }
    return out
  }

  /// The interrupt controller the root's `interrupt-parent` names, else the first known GIC.
  static func gic(_ tree: FDT) throws(FDTError) -> HostGIC? {
    func version(_ node: FDTNode) -> GICVersion? {
      for c in gicV3Compatibles where node.isCompatible(with: c) { return .v3 }
      for c in gicV2Compatibles where node.isCompatible(with: c) { return .v2 }
      return nil
    }
    var chosen: FDTLocatedNode?
    if let phandle = tree.root.property("interrupt-parent")?.u32, let target = tree.node(withPhandle: phandle),
       version(target.node) != nil {
      chosen = target
    } else {
      tree.walk { if chosen == nil, version($0.node) != nil, $0.node.isEnabled { chosen = $0 } }
    }
    guard let located = chosen, let gicVersion = version(located.node) else { return nil }
    let node = located.node
    let regions = try reg(located)
    var gic: HostGIC
    switch gicVersion {
    case .v3:
      let redistributorCount = Int(node.property("#redistributor-regions")?.u32 ?? 1)
      guard redistributorCount >= 1, regions.count >= 1 + redistributorCount else {
        throw .malformedProperty(node: located.path, property: "reg")
      }
      let rest = regions.dropFirst(1 + redistributorCount)
      gic = HostGIC(version: .v3, distributor: regions[0], redistributors: Array(regions[1...redistributorCount]),
                    cpuInterface: rest.first, hypervisorInterface: rest.dropFirst().first,
                    virtualCPUInterface: rest.dropFirst(2).first)
    case .v2:
      guard regions.count >= 2 else { throw .malformedProperty(node: located.path, property: "reg") }
      gic = HostGIC(version: .v2, distributor: regions[0], cpuInterface: regions[1],
                    hypervisorInterface: regions.count > 2 ? regions[2] : nil,
                    virtualCPUInterface: regions.count > 3 ? regions[3] : nil)
    }
    gic.phandle = node.phandle
    if let interrupts = node.property("interrupts") {
      let cellsPerSpecifier = Int(node.property("#interrupt-cells")?.u32 ?? 3)
      guard let cells = interrupts.cells,
            let intids = GICInterruptSpecifier.intids(cells, cellsPerSpecifier: cellsPerSpecifier), !intids.isEmpty else {
        throw .malformedProperty(node: located.path, property: "interrupts")
      }
      gic.maintenanceINTID = intids[0]
    }
    let childPrefix = located.path + "/"
    for child in node.children where child.isEnabled {
      let isV2m = child.isCompatible(with: "arm,gic-v2m-frame")
      let isITS = child.isCompatible(with: "arm,gic-v3-its")
      guard isV2m || isITS else { continue }
      let childRegions = try reg(FDTLocatedNode(node: child, path: childPrefix + child.name,
                                                parentAddressCells: node.addressCells, parentSizeCells: node.sizeCells,
                                                interruptParent: located.interruptParent))
      if isV2m { gic.msiFrames += childRegions } else { gic.itsFrames += childRegions }
    }
    return gic
  }

  /// Cells per interrupt specifier of the controller `phandle` names (3, the GIC binding, if unknown).
  static func interruptCells(_ tree: FDT, parent phandle: UInt32?) -> Int {
    guard let phandle, let controller = tree.node(withPhandle: phandle),
          let cells = controller.node.property("#interrupt-cells")?.u32 else { return 3 }
    return Int(cells)
  }

  static func intids(_ tree: FDT, _ located: FDTLocatedNode) throws(FDTError) -> [UInt32]? {
    guard let interrupts = located.node.property("interrupts") else { return nil }
    guard let cells = interrupts.cells,
          let intids = GICInterruptSpecifier.intids(cells, cellsPerSpecifier: interruptCells(tree, parent: located.interruptParent)) else {
      throw .malformedProperty(node: located.path, property: "interrupts")
    }
    return intids
  }

  static func uart(_ tree: FDT) throws(FDTError) -> HostUART? {
    var pick: FDTLocatedNode?
    if let stdout = tree.node(atPath: "/chosen")?.property("stdout-path")?.string {
      // "serial0:115200n8": options follow the first ':'.
      let path = String(decoding: stdout.utf8.prefix { $0 != UInt8(ascii: ":") }, as: UTF8.self)
      if let target = tree.locate(path: path), target.node.isCompatible(with: "arm,pl011") { pick = target }
    }
    if pick == nil {
      pick = tree.nodes(compatibleWith: "arm,pl011").first { $0.node.isEnabled }
    }
    guard let located = pick else { return nil }
    let regions = try reg(located)
    guard let first = regions.first else { throw .malformedProperty(node: located.path, property: "reg") }
    return HostUART(base: first.base, size: first.size, intid: try intids(tree, located)?.first, path: located.path)
  }

  static func timer(_ tree: FDT) throws(FDTError) -> TimerINTIDs? {
    guard let located = tree.nodes(compatibleWith: "arm,armv8-timer").first else { return nil }
    guard let intids = try intids(tree, located) else {
      throw .missingProperty(node: located.path, property: "interrupts")
    }
    guard intids.count >= 4 else { throw .malformedProperty(node: located.path, property: "interrupts") }
    return TimerINTIDs(securePhysical: intids[0], nonSecurePhysical: intids[1], virtual: intids[2],
                       hypervisorPhysical: intids[3], hypervisorVirtual: intids.count > 4 ? intids[4] : nil)
  }

  static func psci(_ tree: FDT) throws(FDTError) -> PSCIConduit? {
    var located: FDTLocatedNode?
    for compatible in ["arm,psci-1.0", "arm,psci-0.2", "arm,psci"] where located == nil {
      located = tree.nodes(compatibleWith: compatible).first
    }
    guard let located else { return nil }
    guard let method = located.node.property("method") else {
      throw .missingProperty(node: located.path, property: "method")
    }
    if method.containsString("smc") { return .smc }
    if method.containsString("hvc") { return .hvc }
    throw .malformedProperty(node: located.path, property: "method")
  }

  static func modules(_ tree: FDT) throws(FDTError) -> [GuestModule] {
    guard let chosen = tree.node(atPath: "/chosen") else { return [] }
    // guest-loader writes two 64-bit numbers into `reg` but no #address-cells/#size-cells on
    // /chosen (checked against QEMU 7.2's dumpdtb), so 2/2 is the fallback, not the spec's 2/1.
    let addressCells = chosen.property("#address-cells")?.u32 ?? 2
    let sizeCells = chosen.property("#size-cells")?.u32 ?? 2
    var out: [GuestModule] = []
    for child in chosen.children {
      guard child.isCompatible(with: "multiboot,module") || sameBytes(child.baseName, "module") else { continue }
      let path = "/chosen/" + child.name
      let regions = try reg(FDTLocatedNode(node: child, path: path, parentAddressCells: addressCells,
                                           parentSizeCells: sizeCells, interruptParent: nil))
      guard let region = regions.first else { throw .malformedProperty(node: path, property: "reg") }
      let kind: GuestModule.Kind =
        child.isCompatible(with: "multiboot,kernel") ? .kernel
        : child.isCompatible(with: "multiboot,ramdisk") ? .ramdisk : .other
      out.append(GuestModule(kind: kind, region: region, bootargs: child.property("bootargs")?.stringBytes))
    }
    return out
  }

  static func reserved(_ tree: FDT) throws(FDTError) -> [MemoryRegion] {
    var out = tree.memoryReservations
    guard let located = tree.locate(path: "/reserved-memory") else { return out }
    for child in located.node.children where child.hasProperty("reg") {
      out += try reg(FDTLocatedNode(node: child, path: located.path + "/" + child.name,
                                    parentAddressCells: located.node.addressCells,
                                    parentSizeCells: located.node.sizeCells, interruptParent: nil))
    }
    return out
  }
}

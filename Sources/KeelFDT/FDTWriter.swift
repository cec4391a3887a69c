/// Emits a version 17 blob (last compatible version 16) in the layout dtc and libfdt use:
/// header, memory-reservation block, structure block, strings block, with no padding at the end.
/// Misuse (unbalanced nodes, NUL in a name) is a programming error and traps.
public struct FDTWriter: Sendable {
  private var structure: [UInt8] = []
  private var strings: [UInt8] = []
  private var reservations: [MemoryRegion] = []
  private var depth = 0
  private var rootClosed = false
  public var bootCPUID: UInt32

  public init(bootCPUID: UInt32 = 0) {
    self.bootCPUID = bootCPUID
  }

  public mutating func addMemoryReservation(_ region: MemoryRegion) {
    reservations.append(region)
  }

  /// The first node opened is the root; give it the empty name.
  public mutating func beginNode(_ name: String) {
    precondition(!rootClosed, "only one root node")
    precondition(!name.utf8.contains(0), "node name contains NUL")
    structure.appendBE(FDTToken.beginNode)
    structure.append(contentsOf: name.utf8)
    structure.append(0)
    structure.padTo4()
    depth += 1
  }

  public mutating func endNode() {
    precondition(depth > 0, "endNode without beginNode")
    structure.appendBE(FDTToken.endNode)
    depth -= 1
    if depth == 0 { rootClosed = true }
  }

  public mutating func property(_ property: FDTProperty) {
    precondition(depth > 0, "property outside a node")
    structure.appendBE(FDTToken.prop)
    structure.appendBE(UInt32(property.value.count))
    structure.appendBE(stringOffset(property.name))
    structure.append(contentsOf: property.value)
    structure.padTo4()
  }

  /// A property with no value (`interrupt-controller;`).
  public mutating func property(_ name: String) { property(FDTProperty(name: name)) }
  public mutating func property(_ name: String, bytes: [UInt8]) { property(FDTProperty(name: name, value: bytes)) }
  public mutating func property(_ name: String, u32: UInt32) { property(FDTProperty(name: name, u32: u32)) }
  public mutating func property(_ name: String, u64: UInt64) { property(FDTProperty(name: name, u64: u64)) }
  public mutating func property(_ name: String, cells: [UInt32]) { property(FDTProperty(name: name, cells: cells)) }
  public mutating func property(_ name: String, string: String) { property(FDTProperty(name: name, string: string)) }
  public mutating func property(_ name: String, strings: [String]) { property(FDTProperty(name: name, strings: strings)) }
  public mutating func property(_ name: String, regions: [MemoryRegion], addressCells: UInt32, sizeCells: UInt32) {
    property(FDTProperty(name: name, regions: regions, addressCells: addressCells, sizeCells: sizeCells))
  }

  /// Writes a whole subtree.
  public mutating func node(_ node: FDTNode) {
    beginNode(node.name)
    for p in node.properties { property(p) }
    for child in node.children { self.node(child) }
    endNode()
  }

  public func finish() -> [UInt8] {
    precondition(depth == 0 && rootClosed, "unbalanced nodes or no root")
    var blob: [UInt8] = []
    let headerSize = 40
    let reservationOffset = headerSize.roundedUp(to: 8)
    let structureOffset = reservationOffset + (reservations.count + 1) * 16
    let structureSize = structure.count + 4
    let stringsOffset = structureOffset + structureSize
    let totalSize = stringsOffset + strings.count
    blob.reserveCapacity(totalSize)
    for field in [FDT.magic, UInt32(totalSize), UInt32(structureOffset), UInt32(stringsOffset),
                  UInt32(reservationOffset), 17, 16, bootCPUID, UInt32(strings.count), UInt32(structureSize)] {
      blob.appendBE(field)
    }
    for region in reservations { blob.appendBE(region.base); blob.appendBE(region.size) }
    blob.appendBE(UInt64(0)); blob.appendBE(UInt64(0))
    blob.append(contentsOf: structure)
    blob.appendBE(FDTToken.end)
    blob.append(contentsOf: strings)
    return blob
  }

  /// Serialises a parsed or hand-built tree.
  public static func serialize(_ fdt: FDT) -> [UInt8] {
    var writer = FDTWriter(bootCPUID: fdt.bootCPUID)
    for region in fdt.memoryReservations { writer.addMemoryReservation(region) }
    writer.node(fdt.root)
    return writer.finish()
  }

  /// Reuses any existing occurrence of `name` + NUL, including as the tail of a longer name,
  /// as libfdt does.
  private mutating func stringOffset(_ name: String) -> UInt32 {
    precondition(!name.utf8.contains(0), "property name contains NUL")
    var needle = Array(name.utf8)
    needle.append(0)
    if strings.count >= needle.count {
      var start = 0
      while start + needle.count <= strings.count {
        if strings[start..<start + needle.count].elementsEqual(needle) { return UInt32(start) }
        start += 1
      }
    }
    let offset = strings.count
    strings.append(contentsOf: needle)
    return UInt32(offset)
  }
}

extension Int {
  fileprivate func roundedUp(to alignment: Int) -> Int { (self + alignment - 1) / alignment * alignment }
}

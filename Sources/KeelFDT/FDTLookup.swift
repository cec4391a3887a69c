/// A node together with what its position in the tree implies: its path, the cell sizes its
/// parent imposes on `reg`, and the inherited `interrupt-parent` phandle.
public struct FDTLocatedNode: Equatable, Sendable {
  public var node: FDTNode
  public var path: String
  public var parentAddressCells: UInt32
  public var parentSizeCells: UInt32
  public var interruptParent: UInt32?

  /// `reg` decoded with the parent's cell sizes; nil if absent or malformed.
  public var reg: [MemoryRegion]? {
    node.property("reg")?.regions(addressCells: parentAddressCells, sizeCells: parentSizeCells)
  }
}

extension FDT {
  /// Visits every node depth-first in blob order (the order `dtc` prints).
  public func walk(_ visit: (FDTLocatedNode) -> Void) {
    func descend(_ node: FDTNode, path: String, addressCells: UInt32, sizeCells: UInt32, irqParent: UInt32?) {
      let interruptParent = node.property("interrupt-parent")?.u32 ?? irqParent
      visit(FDTLocatedNode(node: node, path: path, parentAddressCells: addressCells, parentSizeCells: sizeCells,
                           interruptParent: interruptParent))
      let prefix = path.utf8.count == 1 ? path : path + "/"
      for child in node.children {
        descend(child, path: prefix + child.name, addressCells: node.addressCells, sizeCells: node.sizeCells,
                irqParent: interruptParent)
      }
    }
    // The root has no parent; the DT spec defaults apply.
    descend(root, path: "/", addressCells: 2, sizeCells: 1, irqParent: nil)
  }

  /// Resolves an absolute path (`/cpus/cpu@0`, `/memory`) or an alias (`serial0`, `serial0/child`).
  /// Components without a unit address match the first child with that base name.
  public func locate(path: String) -> FDTLocatedNode? {
    var components = Self.split(path)
    if path.utf8.first != UInt8(ascii: "/") {
      guard let first = components.first,
            let target = root.child("aliases")?.property(first)?.string,
            target.utf8.first == UInt8(ascii: "/") else { return nil }
      components = Self.split(target) + components.dropFirst()
    }
    var located = FDTLocatedNode(node: root, path: "/", parentAddressCells: 2, parentSizeCells: 1,
                                 interruptParent: root.property("interrupt-parent")?.u32)
    for component in components {
      guard let child = located.node.child(component) else { return nil }
      located = FDTLocatedNode(
        node: child,
        path: (located.path.utf8.count == 1 ? "/" : located.path + "/") + child.name,
        parentAddressCells: located.node.addressCells, parentSizeCells: located.node.sizeCells,
        interruptParent: child.property("interrupt-parent")?.u32 ?? located.interruptParent)
    }
    return located
  }

  public func node(atPath path: String) -> FDTNode? { locate(path: path)?.node }

  /// Every node whose `compatible` list contains `compatible`, in blob order.
  public func nodes(compatibleWith compatible: String) -> [FDTLocatedNode] {
    var out: [FDTLocatedNode] = []
    walk { if $0.node.isCompatible(with: compatible) { out.append($0) } }
    return out
  }

  public func node(withPhandle phandle: UInt32) -> FDTLocatedNode? {
    var found: FDTLocatedNode?
    walk { if found == nil, $0.node.phandle == phandle { found = $0 } }
    return found
  }

  private static func split(_ path: String) -> [String] {
    path.utf8.split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) }
  }
}

/// GIC interrupt specifiers (Linux `arm,gic*` bindings): cell 0 is the type, cell 1 the number.
public enum GICInterruptSpecifier {
  /// INTID for a (type, number) pair; nil for unknown types or numbers outside the range.
  public static func intid(type: UInt32, number: UInt32) -> UInt32? {
    switch type {
    case 0: return number < 988 ? number + 32 : nil        // SPI
    case 1: return number < 16 ? number + 16 : nil         // PPI
    case 2: return number < 1024 ? number + 4096 : nil     // extended SPI (GICv3.1)
    case 3: return number < 64 ? number + 1056 : nil       // extended PPI (GICv3.1)
    default: return nil
    }
  }

  /// INTIDs of all specifiers in an `interrupts` value with `cellsPerSpecifier` cells each.
  public static func intids(_ cells: [UInt32], cellsPerSpecifier: Int = 3) -> [UInt32]? {
    guard cellsPerSpecifier >= 2, cells.count % cellsPerSpecifier == 0 else { return nil }
    var out: [UInt32] = []
    var index = 0
    while index < cells.count {
      guard let intid = intid(type: cells[index], number: cells[index + 1]) else { return nil }
      out.append(intid)
      index += cellsPerSpecifier
    }
    return out
  }
}

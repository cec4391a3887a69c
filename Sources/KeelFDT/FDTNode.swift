/// A device-tree node: its full name (`name@unit`), properties in blob order and children.
public struct FDTNode: Equatable, Sendable {
  public var name: String
  public var properties: [FDTProperty]
  public var children: [FDTNode]

  public init(name: String, properties: [FDTProperty] = [], children: [FDTNode] = []) {
    self.name = name
    self.properties = properties
    self.children = children
  }

  /// The part of the name before `@`.
  public var baseName: String {
    guard let at = name.utf8.firstIndex(of: UInt8(ascii: "@")) else { return name }
    return String(name[..<at])
  }

  /// The part of the name after `@`, if any.
  public var unitAddress: String? {
    guard let at = name.utf8.firstIndex(of: UInt8(ascii: "@")) else { return nil }
    return String(name[name.utf8.index(after: at)...])
  }

  public func property(_ name: String) -> FDTProperty? {
    for property in properties where sameBytes(property.name, name) { return property }
    return nil
  }

  public func hasProperty(_ name: String) -> Bool { property(name) != nil }

  /// A child by exact name, or by base name when `name` has no unit address (first match wins),
  /// which is how libfdt resolves path components.
  public func child(_ name: String) -> FDTNode? {
    guard let index = childIndex(name) else { return nil }
    return children[index]
  }

  func childIndex(_ name: String) -> Int? {
    let wantsUnit = name.utf8.contains(UInt8(ascii: "@"))
    for (index, child) in children.enumerated() {
      if sameBytes(child.name, name) { return index }
      if !wantsUnit {
        let childBytes = Array(child.name.utf8)
        let n = name.utf8.count
        if childBytes.count > n, childBytes[n] == UInt8(ascii: "@"), bytes(childBytes[..<n], equal: name) { return index }
      }
    }
    return nil
  }

  public var compatible: [String] { property("compatible")?.strings ?? [] }

  public func isCompatible(with candidate: String) -> Bool {
    property("compatible")?.containsString(candidate) ?? false
  }

  public var phandle: UInt32? { property("phandle")?.u32 ?? property("linux,phandle")?.u32 }

  /// `#address-cells` this node imposes on its children (2 when absent, per the DT spec).
  public var addressCells: UInt32 { property("#address-cells")?.u32 ?? 2 }

  /// `#size-cells` this node imposes on its children (1 when absent, per the DT spec).
  public var sizeCells: UInt32 { property("#size-cells")?.u32 ?? 1 }

  public var deviceType: String? { property("device_type")?.string }

  /// False only when `status` says something other than "okay"/"ok".
  public var isEnabled: Bool {
    guard let status = property("status") else { return true }
    return status.containsString("okay") || status.containsString("ok")
  }
}

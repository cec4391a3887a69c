/// Everything that can be wrong with a flattened device tree, or with a tree that lacks what a
/// consumer needs. Parsing never traps: every offset and length from the blob is checked first.
public enum FDTError: Error, Equatable, Sendable {
  /// The buffer ends before `needed` bytes; `available` is what was there.
  case truncated(needed: Int, available: Int)
  case badMagic(UInt32)
  /// Versions below 16 predate the layout this reader understands.
  case unsupportedVersion(UInt32)
  /// A header field places a block outside `totalsize` or overlaps the header.
  case blockOutOfBounds(FDTBlock)
  case misaligned(FDTBlock)
  case badToken(UInt32, at: Int)
  /// A node name or property name runs past its block without a NUL.
  case unterminatedString(at: Int)
  case badStringOffset(UInt32, at: Int)
  /// END_NODE without BEGIN_NODE, END inside a node, or data after the root node.
  case unbalancedNodes(at: Int)
  case nestingTooDeep(at: Int)
  /// A property exists but its bytes do not have the shape its binding requires.
  case malformedProperty(node: String, property: String)
  case missingProperty(node: String, property: String)
}

/// The regions of a blob that the header points at.
public enum FDTBlock: Equatable, Sendable {
  case header, memoryReservations, structure, strings
}

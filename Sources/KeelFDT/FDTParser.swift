enum FDTToken {
  static let beginNode: UInt32 = 1
  static let endNode: UInt32 = 2
  static let prop: UInt32 = 3
  static let nop: UInt32 = 4
  static let end: UInt32 = 9
}

/// Builds the node tree without recursion, so a hostile blob cannot exhaust the EL2 stack.
struct FDTParser {
  let blob: UnsafeRawBufferPointer

  init(_ blob: UnsafeRawBufferPointer) { self.blob = blob }

  func parse() throws(FDTError) -> FDT {
    let header = try FDTHeader(blob)
    let total = Int(header.totalSize)
    guard total >= header.headerSize else { throw .blockOutOfBounds(.header) }
    guard total <= blob.count else { throw .truncated(needed: total, available: blob.count) }
    let bytes = UnsafeRawBufferPointer(rebasing: blob[0..<total])

    let structStart = Int(header.structureOffset)
    let structSize = header.structureSize.map { Int($0) } ?? (total - min(structStart, total))
    let structure = try block(bytes, start: structStart, size: structSize, kind: .structure, headerSize: header.headerSize)
    guard structStart % 4 == 0 else { throw .misaligned(.structure) }
    let strings = try block(bytes, start: Int(header.stringsOffset), size: Int(header.stringsSize), kind: .strings,
                            headerSize: header.headerSize)

    let reservations = try parseReservations(bytes, offset: Int(header.memoryReservationOffset), headerSize: header.headerSize)
    let root = try parseStructure(structure, strings: strings, base: structStart)
    return FDT(root: root, memoryReservations: reservations, bootCPUID: header.bootCPUID,
               version: header.version, lastCompatibleVersion: header.lastCompatibleVersion)
  }

  private func block(_ bytes: UnsafeRawBufferPointer, start: Int, size: Int, kind: FDTBlock,
                     headerSize: Int) throws(FDTError) -> UnsafeRawBufferPointer {
    guard start >= headerSize, size >= 0, start <= bytes.count, size <= bytes.count - start else {
      throw .blockOutOfBounds(kind)
    }
    return UnsafeRawBufferPointer(rebasing: bytes[start..<start + size])
  }

  private func parseReservations(_ bytes: UnsafeRawBufferPointer, offset: Int,
                                 headerSize: Int) throws(FDTError) -> [MemoryRegion] {
    guard offset >= headerSize, offset <= bytes.count else { throw .blockOutOfBounds(.memoryReservations) }
    guard offset % 8 == 0 else { throw .misaligned(.memoryReservations) }
    var out: [MemoryRegion] = []
    var cursor = offset
    while true {
      guard let address = readBE64(bytes, cursor), let size = readBE64(bytes, cursor + 8) else {
        throw .blockOutOfBounds(.memoryReservations)
      }
      if address == 0 && size == 0 { return out }
      guard address.addingReportingOverflow(size).overflow == false else { throw .blockOutOfBounds(.memoryReservations) }
      out.append(MemoryRegion(base: address, size: size))
      cursor += 16
    }
  }

  /// Returns the NUL-terminated bytes starting at `offset` as a String, plus the offset past the NUL.
  private func cString(_ bytes: UnsafeRawBufferPointer, at offset: Int, reportAt: Int) throws(FDTError) -> (String, Int) {
    var end = offset
    while end < bytes.count, bytes[end] != 0 { end += 1 }
    guard end < bytes.count else { throw .unterminatedString(at: reportAt) }
    return (String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<end]), as: UTF8.self), end + 1)
  }

  private func parseStructure(_ structure: UnsafeRawBufferPointer, strings: UnsafeRawBufferPointer,
                              base: Int) throws(FDTError) -> FDTNode {
    var open: [FDTNode] = []
    var root: FDTNode?
    var cursor = 0
    while true {
      guard let token = readBE32(structure, cursor) else {
        throw .truncated(needed: base + cursor + 4, available: base + structure.count)
      }
      let tokenOffset = base + cursor
      cursor += 4
      switch token {
      case FDTToken.beginNode:
        guard root == nil else { throw .unbalancedNodes(at: tokenOffset) }
        guard open.count < FDT.maxDepth else { throw .nestingTooDeep(at: tokenOffset) }
        let (name, next) = try cString(structure, at: cursor, reportAt: base + cursor)
        cursor = (next + 3) & ~3
        open.append(FDTNode(name: name))
      case FDTToken.endNode:
        guard let finished = open.popLast() else { throw .unbalancedNodes(at: tokenOffset) }
        if open.isEmpty { root = finished } else { open[open.count - 1].children.append(finished) }
      case FDTToken.prop:
        guard !open.isEmpty else { throw .unbalancedNodes(at: tokenOffset) }
        guard let length = readBE32(structure, cursor), let nameOffset = readBE32(structure, cursor + 4) else {
          throw .truncated(needed: base + cursor + 8, available: base + structure.count)
        }
        cursor += 8
        let valueLength = Int(length)
        guard valueLength <= structure.count - cursor else {
          throw .truncated(needed: base + cursor + valueLength, available: base + structure.count)
        }
        guard Int(nameOffset) < strings.count else { throw .badStringOffset(nameOffset, at: tokenOffset) }
        let (name, _) = try cString(strings, at: Int(nameOffset), reportAt: tokenOffset)
        let value = [UInt8](UnsafeRawBufferPointer(rebasing: structure[cursor..<cursor + valueLength]))
        cursor = (cursor + valueLength + 3) & ~3
        open[open.count - 1].properties.append(FDTProperty(name: name, value: value))
      case FDTToken.nop:
        continue
      case FDTToken.end:
        guard open.isEmpty, let root else { throw .unbalancedNodes(at: tokenOffset) }
        return root
      default:
        throw .badToken(token, at: tokenOffset)
      }
    }
  }
}

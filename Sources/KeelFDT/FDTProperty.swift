/// One property: its name and raw value bytes. The typed accessors return nil when the bytes do
/// not have the requested shape, so a malformed blob yields nil instead of a trap.
public struct FDTProperty: Equatable, Sendable {
  public var name: String
  public var value: [UInt8]

  public init(name: String, value: [UInt8] = []) {
    self.name = name
    self.value = value
  }

  public init(name: String, u32: UInt32) { self.init(name: name, value: beBytes(u32)) }
  public init(name: String, u64: UInt64) { self.init(name: name, value: beBytes(u64)) }

  public init(name: String, cells: [UInt32]) {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(cells.count * 4)
    for cell in cells { bytes.appendBE(cell) }
    self.init(name: name, value: bytes)
  }

  public init(name: String, string: String) { self.init(name: name, strings: [string]) }

  public init(name: String, strings: [String]) {
    var bytes: [UInt8] = []
    for s in strings { bytes.append(contentsOf: s.utf8); bytes.append(0) }
    self.init(name: name, value: bytes)
  }

  /// Encodes `reg`-style (address, size) pairs. Cell counts above 2 are not representable here.
  public init(name: String, regions: [MemoryRegion], addressCells: UInt32, sizeCells: UInt32) {
    precondition(addressCells <= 2 && sizeCells <= 2, "reg cells above 2 are not supported")
    var cells: [UInt32] = []
    for region in regions {
      if addressCells == 2 { cells.append(UInt32(truncatingIfNeeded: region.base >> 32)) }
      if addressCells >= 1 { cells.append(UInt32(truncatingIfNeeded: region.base)) }
      if sizeCells == 2 { cells.append(UInt32(truncatingIfNeeded: region.size >> 32)) }
      if sizeCells >= 1 { cells.append(UInt32(truncatingIfNeeded: region.size)) }
    }
    self.init(name: name, cells: cells)
  }

  public var isEmpty: Bool { value.isEmpty }

  /// The value as one cell; nil unless it is exactly 4 bytes.
  public var u32: UInt32? {
    guard value.count == 4 else { return nil }
    return value.withUnsafeBytes { readBE32($0, 0) }
  }

  /// The value as one 64-bit number; nil unless it is exactly 8 bytes.
  public var u64: UInt64? {
    guard value.count == 8 else { return nil }
    return value.withUnsafeBytes { readBE64($0, 0) }
  }

  /// The value as big-endian cells; nil unless its length is a multiple of 4.
  public var cells: [UInt32]? {
    guard value.count % 4 == 0 else { return nil }
    return value.withUnsafeBytes { raw in
      var out: [UInt32] = []
      out.reserveCapacity(raw.count / 4)
      var offset = 0
      while let cell = readBE32(raw, offset) { out.append(cell); offset += 4 }
      return out
    }
  }

  /// The value as a single NUL-terminated string.
  public var string: String? {
    guard let list = stringByteRanges, list.count == 1 else { return nil }
    return String(decoding: value[list[0]], as: UTF8.self)
  }

  /// The bytes of a single NUL-terminated string, without the NUL.
  public var stringBytes: [UInt8]? {
    guard let list = stringByteRanges, list.count == 1 else { return nil }
    return Array(value[list[0]])
  }

  /// The value as a NUL-separated string list (`compatible`, `clock-names`, ...).
  public var strings: [String]? {
    guard let list = stringByteRanges else { return nil }
    return list.map { String(decoding: value[$0], as: UTF8.self) }
  }

  /// Whether the string list contains `candidate`, compared byte for byte.
  public func containsString(_ candidate: String) -> Bool {
    guard let list = stringByteRanges else { return false }
    for range in list where bytes(value[range], equal: candidate) { return true }
    return false
  }

  /// Decodes (address, size) pairs. Nil if the length is not a whole number of pairs, a cell count
  /// exceeds 2, or a region would wrap past 2^64.
  public func regions(addressCells: UInt32, sizeCells: UInt32) -> [MemoryRegion]? {
    guard addressCells >= 1, addressCells <= 2, sizeCells <= 2, let cells else { return nil }
    let stride = Int(addressCells + sizeCells)
    guard cells.count % stride == 0 else { return nil }
    var out: [MemoryRegion] = []
    var index = 0
    while index < cells.count {
      let base = Self.number(cells[index..<index + Int(addressCells)])
      let size = Self.number(cells[index + Int(addressCells)..<index + stride])
      guard base.addingReportingOverflow(size).overflow == false else { return nil }
      out.append(MemoryRegion(base: base, size: size))
      index += stride
    }
    return out
  }

  /// Combines up to two big-endian cells into one number (an empty slice is 0).
  public static func number(_ cells: ArraySlice<UInt32>) -> UInt64 {
    var result: UInt64 = 0
    for cell in cells { result = result << 32 | UInt64(cell) }
    return result
  }

  /// Ranges of each string, excluding NULs; nil unless the value is non-empty and ends in NUL.
  private var stringByteRanges: [Range<Int>]? {
    guard let last = value.last, last == 0 else { return nil }
    var ranges: [Range<Int>] = []
    var start = 0
    for index in value.indices where value[index] == 0 {
      ranges.append(start..<index)
      start = index + 1
    }
    return ranges
  }
}

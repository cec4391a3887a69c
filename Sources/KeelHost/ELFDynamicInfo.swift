/// What the dynamic loader needs from an ELF64 little-endian file: its program interpreter
/// (`PT_INTERP`) and the libraries it names in `DT_NEEDED`. Read through the program headers,
/// as ld.so does, so stripped files without section headers work too.
public struct ELFDynamicInfo: Equatable, Sendable {
  public var interpreter: String?
  public var needed: [String]
  public var soname: String?

  public init(interpreter: String? = nil, needed: [String] = [], soname: String? = nil) {
    self.interpreter = interpreter; self.needed = needed; self.soname = soname
  }

  /// A static executable has neither; the result is then empty, not an error.
  public static func parse(_ bytes: [UInt8]) throws(ELFError) -> ELFDynamicInfo {
    let reader = LittleEndianReader(bytes: bytes)
    guard bytes.count >= 64, bytes[0] == 0x7F, bytes[1] == 0x45, bytes[2] == 0x4C, bytes[3] == 0x46 else {
      throw .notELF
    }
    guard bytes[4] == 2, bytes[5] == 1 else { throw .unsupportedClass(bytes[4], encoding: bytes[5]) }
    let programHeaderOffset = try reader.u64(at: 0x20)
    let programHeaderSize = Int(try reader.u16(at: 0x36))
    let programHeaderCount = Int(try reader.u16(at: 0x38))
    guard programHeaderSize >= 56 else { throw .truncated(at: 0x36) }

    var loads: [(vaddr: UInt64, offset: UInt64, fileSize: UInt64)] = []
    var dynamic: (offset: UInt64, size: UInt64)?
    var info = ELFDynamicInfo()
    for index in 0..<programHeaderCount {
      let base = try reader.offset(programHeaderOffset, plus: UInt64(index * programHeaderSize))
      let type = try reader.u32(at: base)
      let offset = try reader.u64(at: base + 8)
      let vaddr = try reader.u64(at: base + 16)
      let fileSize = try reader.u64(at: base + 32)
      switch type {
      case ProgramHeaderType.load: loads.append((vaddr, offset, fileSize))
      case ProgramHeaderType.dynamic: dynamic = (offset, fileSize)
      case ProgramHeaderType.interpreter: info.interpreter = try reader.cString(at: offset, limit: fileSize)
      default: break
      }
    }
    guard let dynamic else { return info }

    // DT_STRTAB is a virtual address; the PT_LOAD segment that covers it gives the file offset.
    var stringTableAddress: UInt64?
    var neededOffsets: [UInt64] = []
    var sonameOffset: UInt64?
    var entry = dynamic.offset
    while entry + 16 <= dynamic.offset + dynamic.size {
      let tag = try reader.u64(at: entry)
      let value = try reader.u64(at: entry + 8)
      if tag == DynamicTag.null { break }
      switch tag {
      case DynamicTag.needed: neededOffsets.append(value)
      case DynamicTag.stringTable: stringTableAddress = value
      case DynamicTag.soname: sonameOffset = value
      default: break
      }
      entry += 16
    }
    guard !neededOffsets.isEmpty || sonameOffset != nil else { return info }
    guard let address = stringTableAddress else { throw .missingStringTable }
    guard let segment = loads.first(where: { address >= $0.vaddr && address - $0.vaddr < $0.fileSize }) else {
      throw .unmappedAddress(address)
    }
    let stringTable = segment.offset + (address - segment.vaddr)
    info.needed = try neededOffsets.map { (offset) throws(ELFError) -> String in
      try reader.cString(at: try reader.offset(stringTable, plus: offset), limit: nil)
    }
    if let sonameOffset { info.soname = try reader.cString(at: try reader.offset(stringTable, plus: sonameOffset), limit: nil) }
    return info
  }

  enum ProgramHeaderType {
    static let load: UInt32 = 1
    static let dynamic: UInt32 = 2
    static let interpreter: UInt32 = 3
  }

  enum DynamicTag {
    static let null: UInt64 = 0
    static let needed: UInt64 = 1
    static let stringTable: UInt64 = 5
    static let soname: UInt64 = 14
  }
}

public enum ELFError: Error, Equatable, CustomStringConvertible {
  case notELF
  case unsupportedClass(UInt8, encoding: UInt8)
  case truncated(at: UInt64)
  case missingStringTable
  case unmappedAddress(UInt64)

  public var description: String {
    switch self {
    case .notELF: return "not an ELF file"
    case .unsupportedClass(let c, let e): return "not ELF64 little-endian (class \(c), data \(e))"
    case .truncated(let at): return "truncated ELF at offset \(hex(at))"
    case .missingStringTable: return "DT_NEEDED without DT_STRTAB"
    case .unmappedAddress(let a): return "DT_STRTAB \(hex(a)) is outside every PT_LOAD segment"
    }
  }
}

/// Bounds-checked little-endian reads; every failure names the offset.
struct LittleEndianReader {
  let bytes: [UInt8]

  func offset(_ base: UInt64, plus delta: UInt64) throws(ELFError) -> UInt64 {
    let (sum, overflow) = base.addingReportingOverflow(delta)
    guard !overflow, sum < UInt64(bytes.count) else { throw .truncated(at: base) }
    return sum
  }

  func integer(at offset: UInt64, width: Int) throws(ELFError) -> UInt64 {
    guard offset <= UInt64(bytes.count), UInt64(bytes.count) - offset >= UInt64(width) else { throw .truncated(at: offset) }
    var value: UInt64 = 0
    for index in (0..<width).reversed() { value = value << 8 | UInt64(bytes[Int(offset) + index]) }
    return value
  }

  func u16(at offset: UInt64) throws(ELFError) -> UInt16 { UInt16(try integer(at: offset, width: 2)) }
  func u32(at offset: UInt64) throws(ELFError) -> UInt32 { UInt32(try integer(at: offset, width: 4)) }
  func u64(at offset: UInt64) throws(ELFError) -> UInt64 { try integer(at: offset, width: 8) }

  /// A NUL-terminated string, at most `limit` bytes long when given (PT_INTERP includes the NUL).
  func cString(at offset: UInt64, limit: UInt64?) throws(ELFError) -> String {
    guard offset < UInt64(bytes.count) else { throw .truncated(at: offset) }
    let end = limit.map { min(UInt64(bytes.count), offset &+ $0) } ?? UInt64(bytes.count)
    var index = Int(offset)
    while UInt64(index) < end, bytes[index] != 0 { index += 1 }
    guard UInt64(index) < UInt64(bytes.count), bytes[index] == 0 else { throw .truncated(at: offset) }
    return String(decoding: bytes[Int(offset)..<index], as: UTF8.self)
  }
}

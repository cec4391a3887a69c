import KeelArch

/// Where stage-2 table pages come from. The image hands out identity-mapped host pages;
/// host tests hand out plain memory with made-up physical addresses.
public protocol PageAllocator {
  /// A zeroed, 4 KiB-aligned page.
  mutating func allocatePage() -> PA?
  /// The hypervisor's view of a table page it allocated.
  func table(at pa: PA) -> UnsafeMutablePointer<UInt64>
}

public enum Stage2Error: Error, Equatable, Sendable {
  case misaligned(ipa: UInt64, pa: UInt64, size: UInt64)
  case outsideIPASpace(ipa: UInt64, size: UInt64)
  case alreadyMapped(ipa: UInt64)
  case outOfMemory
}

/// Stage-2 memory attributes (Arm ARM D8.5.5, stage 2 MemAttr and S2AP).
public enum Stage2Memory: Sendable, Equatable {
  /// Normal, inner/outer write-back: guest RAM.
  case normal
  /// Device-nGnRE: pass-through device frames such as the GICv2 virtual CPU interface.
  case device

  var attributeBits: UInt64 {
    let af: UInt64 = 1 << 10
    let readWrite: UInt64 = 0b11 << 6
    switch self {
    case .normal: return af | 0b11 << 8 /* inner shareable */ | readWrite | 0b1111 << 2
    case .device: return af | readWrite | 0b0001 << 2 | 1 << 54 /* XN */
    }
  }
}

/// A VM's stage-2 translation tables: 4 KiB granule, level-1 root (see `Stage2Control`).
/// Uses 2 MiB blocks wherever alignment allows and 4 KiB pages elsewhere.
/// Anything not mapped faults to EL2, which is how MMIO traps and how a stray access is caught.
public struct Stage2Tables<Allocator: PageAllocator> {
  public private(set) var allocator: Allocator
  public let root: PA
  public let ipaBits: Int
  public private(set) var tablePages = 1

  static var pageSize: UInt64 { 0x1000 }
  static var blockSize: UInt64 { 0x20_0000 }

  public init(allocator: Allocator, ipaBits: Int) throws(Stage2Error) {
    var a = allocator
    guard let root = a.allocatePage() else { throw .outOfMemory }
    self.allocator = a
    self.root = root
    self.ipaBits = ipaBits
  }

  /// VTTBR_EL2: root table and VMID (8-bit VMIDs).
  public func vttbr(vmid: UInt8) -> UInt64 { UInt64(vmid) << 48 | root.rawValue }

  public mutating func map(ipa: IPA, to pa: PA, size: UInt64, _ memory: Stage2Memory) throws(Stage2Error) {
    let page = Self.pageSize
    guard ipa.rawValue % page == 0, pa.rawValue % page == 0, size % page == 0, size > 0 else {
      throw .misaligned(ipa: ipa.rawValue, pa: pa.rawValue, size: size)
    }
    let (end, overflow) = ipa.rawValue.addingReportingOverflow(size)
    guard !overflow, end <= 1 << UInt64(ipaBits) else { throw .outsideIPASpace(ipa: ipa.rawValue, size: size) }
    var offset: UInt64 = 0
    while offset < size {
      let i = ipa.rawValue + offset, p = pa.rawValue + offset
      let remaining = size - offset
      if i % Self.blockSize == 0 && p % Self.blockSize == 0 && remaining >= Self.blockSize {
        try setEntry(ipa: i, level: 2, descriptor: p | memory.attributeBits | 0b01)
        offset += Self.blockSize
      } else {
        try setEntry(ipa: i, level: 3, descriptor: p | memory.attributeBits | 0b11)
        offset += page
      }
    }
  }

  static func index(_ ipa: UInt64, level: Int) -> Int { Int(ipa >> UInt64(39 - 9 * level) & 0x1FF) }

  mutating func setEntry(ipa: UInt64, level target: Int, descriptor: UInt64) throws(Stage2Error) {
    var table = root
    for level in 1..<target {
      let slot = allocator.table(at: table) + Self.index(ipa, level: level)
      let entry = slot.pointee
      if entry & 0b11 == 0b11 {
        table = PA(entry & 0xFFFF_FFFF_F000)
      } else if entry & 1 == 1 {
        throw .alreadyMapped(ipa: ipa)      // a block already covers it
      } else {
        guard let next = allocator.allocatePage() else { throw .outOfMemory }
        tablePages += 1
        slot.pointee = next.rawValue | 0b11
        table = next
      }
    }
    let slot = allocator.table(at: table) + Self.index(ipa, level: target)
    guard slot.pointee & 1 == 0 else { throw .alreadyMapped(ipa: ipa) }
    slot.pointee = descriptor
  }

  /// Software walk, as the MMU would do it: the PA an IPA maps to, if any.
  public func translate(_ ipa: IPA) -> PA? {
    var table = root
    for level in 1...3 {
      let entry = allocator.table(at: table)[Self.index(ipa.rawValue, level: level)]
      guard entry & 1 == 1 else { return nil }
      let span: UInt64 = 1 << UInt64(39 - 9 * level)
      if level == 3 || entry & 0b10 == 0 {
        return PA((entry & 0xFFFF_FFFF_F000 & ~(span - 1)) | ipa.rawValue & (span - 1))
      }
      table = PA(entry & 0xFFFF_FFFF_F000)
    }
    return nil
  }
}

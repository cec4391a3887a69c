import Testing
import KeelArch
import KeelVM

/// Host memory standing in for table pages, at made-up physical addresses.
final class PagePool {
  var pages: [UInt64: UnsafeMutablePointer<UInt64>] = [:]
  var next: UInt64 = 0x8000_0000
  deinit { for p in pages.values { p.deallocate() } }
}

struct FakeAllocator: PageAllocator {
  let pool = PagePool()
  /// Pages left before allocation fails.
  var budget = Int.max

  mutating func allocatePage() -> PA? {
    guard budget > 0 else { return nil }
    budget -= 1
    let pa = pool.next
    pool.next += 0x1000
    let p = UnsafeMutablePointer<UInt64>.allocate(capacity: 512)
    p.initialize(repeating: 0, count: 512)
    pool.pages[pa] = p
    return PA(pa)
  }

  func table(at pa: PA) -> UnsafeMutablePointer<UInt64> { pool.pages[pa.rawValue]! }
}

let MiB: UInt64 = 1 << 20
let GiB: UInt64 = 1 << 30

/// The stage-2 descriptor an IPA resolves to, and the level it sits at (walked independently of translate()).
func leafDescriptor(_ s2: Stage2Tables<FakeAllocator>, _ ipa: UInt64) -> (descriptor: UInt64, level: Int)? {
  var table = s2.root
  for level in 1...3 {
    let index = Int(ipa >> UInt64(39 - 9 * level) & 0x1FF)
    let d = s2.allocator.table(at: table)[index]
    guard d & 1 == 1 else { return nil }
    if level == 3 || d & 2 == 0 { return (d, level) }
    table = PA(d & 0xFFFF_FFFF_F000)
  }
  return nil
}

@Suite struct Stage2TablesTests {
  @Test func alignedRAMUsesBlocks() throws {
    var s2 = try Stage2Tables(allocator: FakeAllocator(), ipaBits: 39)
    try s2.map(ipa: IPA(0x4000_0000), to: PA(0x1_0000_0000), size: 8 * MiB, .normal)
    // Root plus one level-2 table; 2 MiB blocks need no level-3 tables.
    #expect(s2.tablePages == 2)
    let leaf = try #require(leafDescriptor(s2, 0x4000_0000 + 3 * MiB))
    #expect(leaf.level == 2)
    #expect(leaf.descriptor & 0b11 == 0b01)                  // block
    #expect(leaf.descriptor >> 2 & 0xF == 0b1111)            // MemAttr: Normal, inner/outer write-back
    #expect(leaf.descriptor >> 6 & 0b11 == 0b11)             // S2AP read/write
    #expect(leaf.descriptor >> 8 & 0b11 == 0b11)             // inner shareable
    #expect(leaf.descriptor >> 10 & 1 == 1)                  // AF
    #expect(leaf.descriptor >> 54 & 1 == 0)                  // executable
    #expect(s2.translate(IPA(0x4000_0000)) == PA(0x1_0000_0000))
    #expect(s2.translate(IPA(0x4000_0000 + 8 * MiB - 1)) == PA(0x1_0000_0000 + 8 * MiB - 1))
    #expect(s2.translate(IPA(0x4000_0000 + 3 * MiB + 0x123)) == PA(0x1_0000_0000 + 3 * MiB + 0x123))
    #expect(s2.translate(IPA(0x4000_0000 + 8 * MiB)) == nil)
    #expect(s2.translate(IPA(0x3FFF_FFFF)) == nil)
  }

  @Test func misalignedPAFallsBackToPages() throws {
    var s2 = try Stage2Tables(allocator: FakeAllocator(), ipaBits: 39)
    // IPA is block-aligned but PA is not: every 2 MiB must be 4 KiB pages.
    try s2.map(ipa: IPA(0x4000_0000), to: PA(0x8000_1000), size: 2 * MiB, .normal)
    #expect(s2.tablePages == 3)                               // root, L2, one L3
    let leaf = try #require(leafDescriptor(s2, 0x4000_0000 + 0x5000))
    #expect(leaf.level == 3 && leaf.descriptor & 0b11 == 0b11)
    #expect(s2.translate(IPA(0x4000_5ABC)) == PA(0x8000_6ABC))
  }

  @Test func mixedBlocksAndPages() throws {
    var s2 = try Stage2Tables(allocator: FakeAllocator(), ipaBits: 39)
    // Starts 4 KiB before a 2 MiB boundary and ends 4 KiB after the next one.
    let ipa: UInt64 = 0x4000_0000 + 2 * MiB - 0x1000
    let pa: UInt64 = 0x9000_0000 + 2 * MiB - 0x1000
    try s2.map(ipa: IPA(ipa), to: PA(pa), size: 2 * MiB + 0x2000, .normal)
    #expect(try #require(leafDescriptor(s2, ipa)).level == 3)
    #expect(try #require(leafDescriptor(s2, ipa + 0x1000)).level == 2)
    #expect(try #require(leafDescriptor(s2, ipa + 0x1000 + 2 * MiB)).level == 3)
    #expect(s2.tablePages == 4)                               // root, L2, two L3
    for off: UInt64 in [0, 0xFFF, 0x1000, 0x1000 + MiB, 0x1000 + 2 * MiB, 0x1FFF + 2 * MiB] {
      #expect(s2.translate(IPA(ipa + off)) == PA(pa + off))
    }
    #expect(s2.translate(IPA(ipa + 0x2000 + 2 * MiB)) == nil)
  }

  @Test func deviceMapping() throws {
    var s2 = try Stage2Tables(allocator: FakeAllocator(), ipaBits: 39)
    try s2.map(ipa: IPA(0x0801_0000), to: PA(0x2C02_0000), size: 0x2000, .device)
    let leaf = try #require(leafDescriptor(s2, 0x0801_1000))
    #expect(leaf.descriptor >> 2 & 0xF == 0b0001)            // Device-nGnRE
    #expect(leaf.descriptor >> 54 & 1 == 1)                  // XN
    #expect(leaf.descriptor >> 10 & 1 == 1)
    #expect(leaf.descriptor & 0xFFFF_FFFF_F000 == 0x2C02_1000)
    #expect(s2.translate(IPA(0x0801_1004)) == PA(0x2C02_1004))
  }

  @Test func tablesAreShared() throws {
    var s2 = try Stage2Tables(allocator: FakeAllocator(), ipaBits: 39)
    try s2.map(ipa: IPA(0x4000_0000), to: PA(0x4000_0000), size: 0x1000, .normal)
    try s2.map(ipa: IPA(0x4000_1000), to: PA(0x5000_0000), size: 0x1000, .normal)
    #expect(s2.tablePages == 3)
    try s2.map(ipa: IPA(0x8000_0000), to: PA(0x6000_0000), size: 0x1000, .normal)   // next 1 GiB: new L2 and L3
    #expect(s2.tablePages == 5)
    #expect(s2.translate(IPA(0x4000_1008)) == PA(0x5000_0008))
    #expect(s2.translate(IPA(0x4000_2000)) == nil)
  }

  @Test func alreadyMapped() throws {
    var s2 = try Stage2Tables(allocator: FakeAllocator(), ipaBits: 39)
    try s2.map(ipa: IPA(0x4000_0000), to: PA(0x4000_0000), size: 2 * MiB, .normal)
    // A page inside an existing block.
    #expect(throws: Stage2Error.alreadyMapped(ipa: 0x4000_3000)) {
      try s2.map(ipa: IPA(0x4000_3000), to: PA(0x7000_0000), size: 0x1000, .normal)
    }
    try s2.map(ipa: IPA(0x4020_0000), to: PA(0x7000_1000), size: 0x1000, .normal)
    // A page over an existing page, and a block over an existing table.
    #expect(throws: Stage2Error.alreadyMapped(ipa: 0x4020_0000)) {
      try s2.map(ipa: IPA(0x4020_0000), to: PA(0x7000_0000), size: 0x1000, .normal)
    }
    #expect(throws: Stage2Error.alreadyMapped(ipa: 0x4020_0000)) {
      try s2.map(ipa: IPA(0x4020_0000), to: PA(0x7020_0000), size: 2 * MiB, .normal)
    }
    #expect(s2.translate(IPA(0x4000_3000)) == PA(0x4000_3000))
  }

  @Test func misaligned() throws {
    var s2 = try Stage2Tables(allocator: FakeAllocator(), ipaBits: 39)
    #expect(throws: Stage2Error.misaligned(ipa: 0x4000_0800, pa: 0x1000, size: 0x1000)) {
      try s2.map(ipa: IPA(0x4000_0800), to: PA(0x1000), size: 0x1000, .normal)
    }
    #expect(throws: Stage2Error.misaligned(ipa: 0x4000_0000, pa: 0x1001, size: 0x1000)) {
      try s2.map(ipa: IPA(0x4000_0000), to: PA(0x1001), size: 0x1000, .normal)
    }
    #expect(throws: Stage2Error.misaligned(ipa: 0x4000_0000, pa: 0x1000, size: 0x1800)) {
      try s2.map(ipa: IPA(0x4000_0000), to: PA(0x1000), size: 0x1800, .normal)
    }
    #expect(throws: Stage2Error.misaligned(ipa: 0x4000_0000, pa: 0x1000, size: 0)) {
      try s2.map(ipa: IPA(0x4000_0000), to: PA(0x1000), size: 0, .normal)
    }
    #expect(s2.tablePages == 1)
  }

  @Test func outsideIPASpace() throws {
    var s2 = try Stage2Tables(allocator: FakeAllocator(), ipaBits: 32)
    try s2.map(ipa: IPA(0xFFFF_F000), to: PA(0x1000), size: 0x1000, .normal)   // last page fits
    #expect(throws: Stage2Error.outsideIPASpace(ipa: 0xFFFF_F000, size: 0x2000)) {
      try s2.map(ipa: IPA(0xFFFF_F000), to: PA(0x1000), size: 0x2000, .normal)
    }
    #expect(throws: Stage2Error.outsideIPASpace(ipa: 0x1_0000_0000, size: 0x1000)) {
      try s2.map(ipa: IPA(0x1_0000_0000), to: PA(0x1000), size: 0x1000, .normal)
    }
    // An end that wraps past 2^64 must not look small.
    #expect(throws: Stage2Error.outsideIPASpace(ipa: 0xFFFF_FFFF_FFFF_F000, size: 0x2000)) {
      try s2.map(ipa: IPA(0xFFFF_FFFF_FFFF_F000), to: PA(0x1000), size: 0x2000, .normal)
    }
  }

  @Test func outOfMemory() throws {
    var tiny = FakeAllocator()
    tiny.budget = 2
    var s2 = try Stage2Tables(allocator: tiny, ipaBits: 39)
    try s2.map(ipa: IPA(0x4000_0000), to: PA(0x4000_0000), size: 2 * MiB, .normal)   // uses the L2
    #expect(throws: Stage2Error.outOfMemory) {
      try s2.map(ipa: IPA(0x4020_0000), to: PA(0x4020_1000), size: 0x1000, .normal)  // needs an L3
    }
    var none = FakeAllocator()
    none.budget = 0
    #expect(throws: Stage2Error.outOfMemory) { try Stage2Tables(allocator: none, ipaBits: 39) }
  }

  @Test func vttbr() throws {
    let s2 = try Stage2Tables(allocator: FakeAllocator(), ipaBits: 39)
    let v = s2.vttbr(vmid: 0x5A)
    #expect(v >> 48 == 0x5A)                                  // VMID [55:48]
    #expect(v & 0xFFFF_FFFF_FFFE == s2.root.rawValue)         // BADDR
    #expect(s2.root.rawValue & 0xFFF == 0)
  }
}

import Testing
import KeelFDT
import KeelVM

@Suite struct GuestRAMAllocatorTests {
  static let mib: UInt64 = 1 << 20

  @Test func takesTopDown() {
    var a = GuestRAMAllocator(memory: [MemoryRegion(base: 0x4000_0000, size: 0x4000_0000)], floor: 0x4400_0000)
    #expect(a.take(256 * Self.mib) == 0x7000_0000)
    #expect(a.take(256 * Self.mib) == 0x6000_0000)
    #expect(a.take(2 * Self.mib) == 0x5FE0_0000)
    #expect(a.ceiling == [MemoryRegion(base: 0x4000_0000, size: 0x1FE0_0000)])
  }

  @Test func basesAre2MiBAligned() {
    // The region ends off a 2 MiB boundary, and sizes are not multiples of 2 MiB.
    var a = GuestRAMAllocator(memory: [MemoryRegion(base: 0x4000_0000, size: 0x3FF0_0000)], floor: 0x4000_0000)
    #expect(a.take(1 * Self.mib) == 0x7FE0_0000)
    #expect(a.take(3 * Self.mib) == 0x7FA0_0000)
    #expect(a.take(0x1000) == 0x7F80_0000)
    for _ in 0..<8 {
      let base = a.take(5 * Self.mib + 0x1000)
      #expect(base != nil && base! % (2 * Self.mib) == 0)
    }
  }

  @Test func floorIsRespected() {
    var a = GuestRAMAllocator(memory: [MemoryRegion(base: 0x4000_0000, size: 0x4000_0000)], floor: 0x7000_0000)
    #expect(a.take(0x1000_0000) == 0x7000_0000)
    #expect(a.take(2 * Self.mib) == nil)
    // An unaligned floor: the base is rounded down, so it must not fall below the floor.
    var b = GuestRAMAllocator(memory: [MemoryRegion(base: 0x4000_0000, size: 0x4000_0000)], floor: 0x7F00_1000)
    #expect(b.take(16 * Self.mib) == nil)
    #expect(b.take(14 * Self.mib) == 0x7F20_0000)
    // A region entirely below the floor is never used.
    var c = GuestRAMAllocator(memory: [MemoryRegion(base: 0x4000_0000, size: 0x100_0000)], floor: 0x8000_0000)
    #expect(c.take(2 * Self.mib) == nil)
  }

  @Test func severalRegionsHighestFirst() {
    let low = MemoryRegion(base: 0x4000_0000, size: 0x4000_0000)
    let high = MemoryRegion(base: 0x1_0000_0000, size: 0x1000_0000)
    var a = GuestRAMAllocator(memory: [low, high], floor: 0x4400_0000)
    #expect(a.ceiling == [high, low])
    #expect(a.take(0x800_0000) == 0x1_0800_0000)
    // No longer fits in what is left of the high region: the next one down.
    #expect(a.take(0x1000_0000) == 0x7000_0000)
    // Small enough for the high region's remainder again.
    #expect(a.take(0x800_0000) == 0x1_0000_0000)
    #expect(a.take(0x200_0000) == 0x6E00_0000)
  }

  @Test func exhaustionReturnsNilAndChangesNothing() {
    var a = GuestRAMAllocator(memory: [MemoryRegion(base: 0x4000_0000, size: 0x800_0000)], floor: 0x4000_0000)
    #expect(a.take(0x1000_0000) == nil)
    #expect(a.ceiling == [MemoryRegion(base: 0x4000_0000, size: 0x800_0000)])
    #expect(a.take(0x800_0000) == 0x4000_0000)
    #expect(a.take(2 * Self.mib) == nil)
    var empty = GuestRAMAllocator(memory: [], floor: 0)
    #expect(empty.take(2 * Self.mib) == nil)
  }

  @Test func floorIsAboveImageModulesAndReservedMemory() {
    let modules = [GuestModule(kind: .kernel, region: MemoryRegion(base: 0x4400_0000, size: 0x200_0000)),
                   GuestModule(kind: .ramdisk, region: MemoryRegion(base: 0x4600_0000, size: 0x123_4567))]
    #expect(GuestRAMAllocator.floor(above: 0x4400_0000, modules: modules, reserved: []) == 0x4723_4567)
    #expect(GuestRAMAllocator.floor(above: 0x4400_0000, modules: modules,
                                    reserved: [MemoryRegion(base: 0x4800_0000, size: 0x1000)]) == 0x4800_1000)
    #expect(GuestRAMAllocator.floor(above: 0x4900_0000, modules: modules, reserved: []) == 0x4900_0000)
    #expect(GuestRAMAllocator.floor(above: 0x4400_0000, modules: [], reserved: []) == 0x4400_0000)
  }
}

import Testing
import KeelFDT

// Expected values below were read from `dtc -I dtb -O dts` of the fixtures (see Fixtures/README.txt).
@Suite struct FDTParserTests {
  @Test func headerOfRawQEMUBlobGivesTotalSizeFromFirst40Bytes() throws {
    let blob = try Fixture.bytes("virt-gicv3.dtb")
    let header = try blob.withUnsafeBytes { raw in try FDTHeader(UnsafeRawBufferPointer(rebasing: raw[0..<40])) }
    #expect(Int(header.totalSize) == blob.count)
    #expect(header.version == 17)
    #expect(header.lastCompatibleVersion == 16)
    #expect(header.memoryReservationOffset == 0x30)
    #expect(header.structureOffset == 0x40)
  }

  @Test func parsesRawQEMUBlobInPlace() throws {
    let blob = try Fixture.bytes("virt-gicv3.dtb")
    let tree = try blob.withUnsafeBytes { raw in try FDT(parsing: raw) }
    #expect(tree.version == 17)
    #expect(tree.memoryReservations.isEmpty)
    #expect(tree.root.name == "")
    #expect(tree.root.property("compatible")?.string == "linux,dummy-virt")
    #expect(tree.root.addressCells == 2 && tree.root.sizeCells == 2)
    #expect(tree.node(atPath: "/cpus/cpu@1")?.property("reg")?.u32 == 1)
    #expect(tree.node(atPath: "/timer")?.compatible == ["arm,armv8-timer", "arm,armv7-timer"])
    #expect(tree.node(atPath: "/cpus/cpu@7") == nil)
    #expect(tree.node(atPath: "/nonexistent/child") == nil)
  }

  @Test func pathComponentsWithoutUnitAddressMatchBaseName() throws {
    let tree = try FDT(parsing: try Fixture.bytes("virt-gicv3.dtb"))
    let memory = try #require(tree.locate(path: "/memory"))
    #expect(memory.node.name == "memory@40000000")
    #expect(memory.path == "/memory@40000000")
    #expect(memory.reg == [MemoryRegion(0x4000_0000, 0x4000_0000)])
    #expect(tree.node(atPath: "/memory@40000000") == memory.node)
    #expect(tree.node(atPath: "/memory@50000000") == nil)
    #expect(tree.node(atPath: "/")?.name == "")
  }

  @Test func lookupByCompatibleIsInBlobOrderAndCarriesParentCells() throws {
    let tree = try FDT(parsing: try Fixture.bytes("virt-gicv3.dtb"))
    let virtio = tree.nodes(compatibleWith: "virtio,mmio")
    #expect(virtio.count == 32)
    #expect(virtio.first?.path == "/virtio_mmio@a000000")
    #expect(virtio.first?.reg == [MemoryRegion(0xa00_0000, 0x200)])
    let its = try #require(tree.nodes(compatibleWith: "arm,gic-v3-its").first)
    #expect(its.path == "/intc@8000000/its@8080000")
    #expect(its.reg == [MemoryRegion(0x808_0000, 0x20000)])
    #expect(its.interruptParent == 0x8003)
    let cpu = try #require(tree.nodes(compatibleWith: "arm,cortex-a72").last)
    #expect(cpu.parentAddressCells == 1 && cpu.parentSizeCells == 0)
  }

  @Test func phandleLookup() throws {
    let tree = try FDT(parsing: try Fixture.bytes("virt-gicv3.dtb"))
    let parent = try #require(tree.root.property("interrupt-parent")?.u32)
    #expect(tree.node(withPhandle: parent)?.path == "/intc@8000000")
    let clocks = try #require(tree.node(atPath: "/pl011@9000000")?.property("clocks")?.cells)
    #expect(tree.node(withPhandle: clocks[0])?.node.name == "apb-pclk")
    #expect(tree.node(withPhandle: 0xDEAD) == nil)
  }

  @Test func aliasesResolve() throws {
    let tree = try FDT(parsing: try Fixture.bytes("edge.dtb"))
    #expect(tree.locate(path: "serial0")?.path == "/uart@1c0a0000")
    #expect(tree.locate(path: "serial1")?.path == "/uart@1c090000")
    #expect(tree.locate(path: "serial9") == nil)
  }

  @Test func memoryReservationBlock() throws {
    let tree = try FDT(parsing: try Fixture.bytes("edge.dtb"))
    #expect(tree.memoryReservations == [MemoryRegion(0x4800_0000, 0x10_0000), MemoryRegion(0x4f00_0000, 0x2000)])
  }

  @Test func propertyHelpers() throws {
    let tree = try FDT(parsing: try Fixture.bytes("virt-gicv3.dtb"))
    let uart = try #require(tree.node(atPath: "/pl011@9000000"))
    #expect(uart.baseName == "pl011")
    #expect(uart.unitAddress == "9000000")
    #expect(uart.property("clock-names")?.strings == ["uartclk", "apb_pclk"])
    #expect(uart.property("clock-names")?.string == nil)
    #expect(uart.property("interrupts")?.cells == [0, 1, 4])
    #expect(uart.property("interrupts")?.u32 == nil)
    #expect(uart.property("reg")?.regions(addressCells: 2, sizeCells: 2) == [MemoryRegion(0x900_0000, 0x1000)])
    #expect(uart.property("reg")?.regions(addressCells: 1, sizeCells: 1)
      == [MemoryRegion(0, 0x900_0000), MemoryRegion(0, 0x1000)])
    #expect(uart.property("reg")?.regions(addressCells: 3, sizeCells: 1) == nil)
    #expect(uart.isCompatible(with: "arm,primecell"))
    #expect(!uart.isCompatible(with: "arm,pl01"))
    let kaslr = try #require(tree.node(atPath: "/chosen")?.property("kaslr-seed"))
    #expect(kaslr.u64 != nil && kaslr.cells?.count == 2)
    let pclk = try #require(tree.node(atPath: "/apb-pclk"))
    #expect(pclk.property("clock-frequency")?.u32 == 24_000_000)
    #expect(pclk.property("clock-output-names")?.string == "clk24mhz")
    #expect(pclk.property("compatible")?.u64 == nil)
    #expect(tree.node(atPath: "/timer")?.property("always-on")?.isEmpty == true)
  }

  @Test func valueShapesThatAreNotStrings() {
    #expect(FDTProperty(name: "x", value: [0x61, 0x62]).string == nil)       // no NUL
    #expect(FDTProperty(name: "x", value: []).strings == nil)
    #expect(FDTProperty(name: "x", value: [0x61, 0, 0]).strings == ["a", ""])
    #expect(FDTProperty(name: "x", value: [1, 2, 3]).cells == nil)
    // A region that would wrap past 2^64 is rejected rather than producing a bogus `end`.
    let wrapping = FDTProperty(name: "reg", cells: [0xFFFF_FFFF, 0xFFFF_F000, 0, 0x2000])
    #expect(wrapping.regions(addressCells: 2, sizeCells: 2) == nil)
  }

  @Test func walkVisitsEveryNodeWithFullPaths() throws {
    let tree = try FDT(parsing: try Fixture.bytes("edge.dtb"))
    var paths: [String] = []
    tree.walk { paths.append($0.path) }
    #expect(paths.first == "/")
    #expect(paths.contains("/cpus/cpu-map/cluster0/core0"))
    #expect(paths.contains("/interrupt-controller@2c001000/v2m@2c1d0000"))
    #expect(Set(paths).count == paths.count)
  }

  @Test func gicInterruptSpecifiers() {
    #expect(GICInterruptSpecifier.intid(type: 0, number: 1) == 33)
    #expect(GICInterruptSpecifier.intid(type: 1, number: 9) == 25)
    #expect(GICInterruptSpecifier.intid(type: 1, number: 16) == nil)
    #expect(GICInterruptSpecifier.intid(type: 0, number: 988) == nil)
    #expect(GICInterruptSpecifier.intid(type: 2, number: 0) == 4096)
    #expect(GICInterruptSpecifier.intid(type: 3, number: 0) == 1056)
    #expect(GICInterruptSpecifier.intid(type: 7, number: 0) == nil)
    #expect(GICInterruptSpecifier.intids([1, 13, 4, 1, 14, 4]) == [29, 30])
    #expect(GICInterruptSpecifier.intids([1, 13, 4, 1]) == nil)
    #expect(GICInterruptSpecifier.intids([1, 13, 0, 4, 1, 14, 0, 4], cellsPerSpecifier: 4) == [29, 30])
  }
}

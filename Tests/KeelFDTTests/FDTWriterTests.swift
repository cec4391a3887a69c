import Testing
import KeelFDT

@Suite struct FDTWriterTests {
  @Test(arguments: Fixture.allNames)
  func parsedTreeSurvivesSerialization(name: String) throws {
    let original = try FDT(parsing: try Fixture.bytes(name))
    let again = try FDT(parsing: FDTWriter.serialize(original))
    #expect(again == original)
  }

  /// dtc and FDTWriter share a layout and libfdt-style string sharing, so a dtc-emitted blob
  /// re-serialises byte for byte.
  @Test(arguments: ["virt-gicv2.dtb", "virt-guest-loader.dtb", "edge.dtb"])
  func dtcEmittedBlobsRoundTripByteForByte(name: String) throws {
    let blob = try Fixture.bytes(name)
    #expect(FDTWriter.serialize(try FDT(parsing: blob)) == blob)
  }

  @Test func rawQEMUBlobReserializesCompactlyAndDtcAgrees() throws {
    let blob = try Fixture.bytes("virt-gicv3.dtb")
    let written = FDTWriter.serialize(try FDT(parsing: blob))
    #expect(written.count < blob.count / 16)
    try #require(DTC.isAvailable, "dtc is missing: apt-get install device-tree-compiler (scripts/test.sh does)")
    let a = try DTC.decompile(blob), b = try DTC.decompile(written)
    #expect(a.status == 0 && b.status == 0)
    #expect(a.dts == b.dts)
  }

  @Test func headerLayoutAndVersion() throws {
    var w = FDTWriter(bootCPUID: 3)
    w.addMemoryReservation(MemoryRegion(0x8000_0000, 0x1000))
    w.beginNode("")
    w.property("model", string: "m")
    w.endNode()
    let blob = w.finish()
    let header = try FDTHeader(blob)
    #expect(Int(header.totalSize) == blob.count)
    #expect(header.version == 17 && header.lastCompatibleVersion == 16)
    #expect(header.bootCPUID == 3)
    #expect(header.memoryReservationOffset % 8 == 0)
    #expect(header.structureOffset == header.memoryReservationOffset + 32)   // one entry + terminator
    #expect(header.stringsOffset == header.structureOffset + (header.structureSize ?? 0))
    #expect(Int(header.stringsOffset + header.stringsSize) == blob.count)
    let tree = try FDT(parsing: blob)
    #expect(tree.memoryReservations == [MemoryRegion(0x8000_0000, 0x1000)])
    #expect(tree.bootCPUID == 3)
  }

  @Test func stringTableSharesNamesAndSuffixes() throws {
    var w = FDTWriter()
    w.beginNode("")
    w.property("#size-cells", u32: 1)
    w.beginNode("a")
    w.property("#size-cells", u32: 2)
    w.property("size-cells", u32: 3)     // tail of "#size-cells"
    w.endNode()
    w.endNode()
    let blob = w.finish()
    let header = try FDTHeader(blob)
    let strings = Array(blob[Int(header.stringsOffset)...])
    #expect(strings == Array("#size-cells".utf8) + [0])
    let tree = try FDT(parsing: blob)
    #expect(tree.node(atPath: "/a")?.property("size-cells")?.u32 == 3)
    #expect(tree.node(atPath: "/a")?.property("#size-cells")?.u32 == 2)
  }

  @Test func propertyVariantsEncodeBigEndian() throws {
    var w = FDTWriter()
    w.beginNode("")
    w.property("empty")
    w.property("bytes", bytes: [1, 2, 3])
    w.property("u32", u32: 0x1122_3344)
    w.property("u64", u64: 0x1122_3344_5566_7788)
    w.property("cells", cells: [1, 0xFFFF_FFFF])
    w.property("string", string: "hello")
    w.property("strings", strings: ["a", "bc"])
    w.property("reg", regions: [MemoryRegion(0x1_0000_0000, 0x2000)], addressCells: 2, sizeCells: 1)
    w.endNode()
    let root = try FDT(parsing: w.finish()).root
    #expect(root.property("empty")?.value == [])
    #expect(root.property("bytes")?.value == [1, 2, 3])
    #expect(root.property("u32")?.value == [0x11, 0x22, 0x33, 0x44])
    #expect(root.property("u64")?.u64 == 0x1122_3344_5566_7788)
    #expect(root.property("u64")?.cells == [0x1122_3344, 0x5566_7788])
    #expect(root.property("cells")?.cells == [1, 0xFFFF_FFFF])
    #expect(root.property("string")?.value == Array("hello".utf8) + [0])
    #expect(root.property("strings")?.strings == ["a", "bc"])
    #expect(root.property("reg")?.cells == [1, 0, 0x2000])
    #expect(root.property("reg")?.regions(addressCells: 2, sizeCells: 1) == [MemoryRegion(0x1_0000_0000, 0x2000)])
  }

  @Test func handBuiltTreeIsAcceptedByDtc() throws {
    try #require(DTC.isAvailable, "dtc is missing: apt-get install device-tree-compiler (scripts/test.sh does)")
    var w = FDTWriter()
    w.addMemoryReservation(MemoryRegion(0x4800_0000, 0x1000))
    w.beginNode("")
    w.property("#address-cells", u32: 2)
    w.property("#size-cells", u32: 2)
    w.beginNode("memory@40000000")
    w.property("device_type", string: "memory")
    w.property("reg", regions: [MemoryRegion(0x4000_0000, 0x1000_0000)], addressCells: 2, sizeCells: 2)
    w.endNode()
    w.endNode()
    let out = try DTC.decompile(w.finish())
    #expect(out.status == 0)
    #expect(out.diagnostics.isEmpty)
    #expect(out.dts.contains("/memreserve/\t0x0000000048000000 0x0000000000001000;"))
    #expect(out.dts.contains("reg = <0x00 0x40000000 0x00 0x10000000>;"))
  }
}

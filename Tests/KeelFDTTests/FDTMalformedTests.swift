import Testing
import KeelFDT

/// Hostile or damaged blobs must throw an FDTError and never trap.
@Suite struct FDTMalformedTests {
  /// A small valid blob built by our writer; offsets below are computed from its header.
  static func sample() -> [UInt8] {
    var w = FDTWriter()
    w.addMemoryReservation(MemoryRegion(0x1000, 0x1000))
    w.beginNode("")
    w.property("#address-cells", u32: 2)
    w.beginNode("child@1")
    w.property("reg", cells: [0, 1, 0, 2])
    w.property("compatible", strings: ["a", "b"])
    w.endNode()
    w.endNode()
    return w.finish()
  }

  static func field(_ blob: [UInt8], _ offset: Int) -> Int {
    Int(blob[offset]) << 24 | Int(blob[offset + 1]) << 16 | Int(blob[offset + 2]) << 8 | Int(blob[offset + 3])
  }

  static func set(_ blob: inout [UInt8], _ offset: Int, _ value: UInt32) {
    blob[offset] = UInt8(value >> 24); blob[offset + 1] = UInt8(value >> 16 & 0xFF)
    blob[offset + 2] = UInt8(value >> 8 & 0xFF); blob[offset + 3] = UInt8(value & 0xFF)
  }

  static func parseError(_ blob: [UInt8]) -> FDTError? {
    do { _ = try FDT(parsing: blob); return nil } catch { return error }
  }

  @Test func sampleIsValid() throws {
    let tree = try FDT(parsing: Self.sample())
    #expect(tree.node(atPath: "/child@1")?.property("compatible")?.strings == ["a", "b"])
  }

  @Test func emptyAndShortBuffers() {
    #expect(Self.parseError([]) == .truncated(needed: 4, available: 0))
    #expect(Self.parseError(Array(Self.sample()[0..<20])) == .truncated(needed: 24, available: 20))
  }

  @Test func badMagic() {
    var blob = Self.sample()
    blob[0] = 0xED
    #expect(Self.parseError(blob) == .badMagic(0xED0D_FEED))
  }

  @Test func oldVersionRejected() {
    var blob = Self.sample()
    Self.set(&blob, 20, 15)
    #expect(Self.parseError(blob) == .unsupportedVersion(15))
  }

  @Test func totalSizeLargerThanBuffer() {
    let blob = Self.sample()
    let shortened = Array(blob.dropLast())
    #expect(Self.parseError(shortened) == .truncated(needed: blob.count, available: blob.count - 1))
  }

  @Test func totalSizeSmallerThanHeader() {
    var blob = Self.sample()
    Self.set(&blob, 4, 12)
    #expect(Self.parseError(blob) == .blockOutOfBounds(.header))
  }

  @Test func structureBlockOutOfBounds() {
    var blob = Self.sample()
    Self.set(&blob, 36, UInt32(blob.count))        // size_dt_struct
    #expect(Self.parseError(blob) == .blockOutOfBounds(.structure))
    blob = Self.sample()
    Self.set(&blob, 8, 0xFFFF_FFF0)                 // off_dt_struct
    #expect(Self.parseError(blob) == .blockOutOfBounds(.structure))
    blob = Self.sample()
    Self.set(&blob, 8, 8)                           // inside the header
    #expect(Self.parseError(blob) == .blockOutOfBounds(.structure))
  }

  @Test func stringsBlockOutOfBounds() {
    var blob = Self.sample()
    Self.set(&blob, 32, 0x7FFF_FFFF)
    #expect(Self.parseError(blob) == .blockOutOfBounds(.strings))
  }

  @Test func reservationBlockWithoutTerminator() {
    var blob = Self.sample()
    let offset = Self.field(blob, 16)
    Self.set(&blob, 16, UInt32((blob.count - 8) & ~7))   // aligned, but no room left for a 16-byte entry
    #expect(offset == 40)
    #expect(Self.parseError(blob) == .blockOutOfBounds(.memoryReservations))
    blob = Self.sample()
    Self.set(&blob, 16, 44)
    #expect(Self.parseError(blob) == .misaligned(.memoryReservations))
  }

  @Test func badTokenAndBadStringOffset() {
    var blob = Self.sample()
    let structure = Self.field(blob, 8)
    Self.set(&blob, structure, 7)
    #expect(Self.parseError(blob) == .badToken(7, at: structure))

    blob = Self.sample()
    // Root BEGIN_NODE (4) + empty name padded (4), then PROP, len, nameoff.
    #expect(Self.field(blob, structure + 8) == 3)
    Self.set(&blob, structure + 16, 0xFFFF)
    #expect(Self.parseError(blob) == .badStringOffset(0xFFFF, at: structure + 8))
  }

  @Test func propertyLengthPastStructureEnd() {
    var blob = Self.sample()
    let structure = Self.field(blob, 8)
    Self.set(&blob, structure + 12, 0x10_0000)
    guard case .truncated = Self.parseError(blob) else { Issue.record("expected truncated"); return }
  }

  @Test func unterminatedStringsBlock() {
    var w = FDTWriter()
    w.beginNode("")
    w.property("abc")
    w.endNode()
    var blob = w.finish()
    blob[blob.count - 1] = UInt8(ascii: "x")        // overwrite the NUL ending "abc"
    #expect(Self.parseError(blob) == .unterminatedString(at: Self.field(blob, 8) + 8))
  }

  @Test func unbalancedNodes() {
    var blob = Self.sample()
    let structureEnd = Self.field(blob, 8) + Self.field(blob, 36)
    Self.set(&blob, structureEnd - 8, 4)            // last END_NODE becomes NOP: root never closes
    #expect(Self.parseError(blob) == .unbalancedNodes(at: structureEnd - 4))
  }

  @Test func nestingTooDeep() {
    var w = FDTWriter()
    w.beginNode("")
    for _ in 0..<FDT.maxDepth { w.beginNode("n") }
    for _ in 0..<FDT.maxDepth { w.endNode() }
    w.endNode()
    guard case .nestingTooDeep = Self.parseError(w.finish()) else { Issue.record("expected nestingTooDeep"); return }
  }

  @Test func everyPrefixOfARealBlobThrows() throws {
    let blob = try Fixture.bytes("edge.dtb")
    for length in 0..<blob.count {
      #expect(throws: FDTError.self) { try FDT(parsing: Array(blob[0..<length])) }
    }
  }

  @Test func everyShortenedStructureBlockThrows() throws {
    // The header's own sizes shrink the structure block, so the walker itself meets the cut.
    let blob = try Fixture.bytes("virt-gicv2.dtb")
    let fullSize = Self.field(blob, 36)
    for size in stride(from: 0, to: fullSize, by: 4) {
      var cut = blob
      Self.set(&cut, 36, UInt32(size))
      #expect(Self.parseError(cut) != nil, "size_dt_struct = \(size)")
    }
  }

  @Test func randomCorruptionNeverTraps() throws {
    let original = try Fixture.bytes("virt-guest-loader.dtb")
    var rng = XorShift(state: 0x9E37_79B9_7F4A_7C15)
    var rejected = 0
    for _ in 0..<400 {
      var blob = original
      for _ in 0..<4 {
        let index = Int(rng.next() % UInt64(blob.count))
        blob[index] = UInt8(truncatingIfNeeded: rng.next())
      }
      // Either outcome is fine; reaching the next iteration is the assertion.
      if Self.parseError(blob) != nil { rejected += 1 }
      _ = try? MachineDescription(dtb: blob)
    }
    #expect(rejected > 0)
  }
}

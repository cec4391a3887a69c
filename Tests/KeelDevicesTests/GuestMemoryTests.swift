import Testing
import KeelArch
import KeelDevices

/// Guest RAM in a byte array, with the same protocol the hypervisor's `GuestRAM` conforms to.
final class ByteArrayRAM: GuestMemory {
  let ram: IPARange
  var bytes: [UInt8]
  init(ram: IPARange) {
    self.ram = ram
    bytes = (0..<Int(ram.size)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
  }
  func copyOut(offset: UInt64, into: UnsafeMutableRawBufferPointer) {
    precondition(offset + UInt64(into.count) <= UInt64(bytes.count))
    for i in 0..<into.count { into[i] = bytes[Int(offset) + i] }
  }
  func copyIn(offset: UInt64, from: UnsafeRawBufferPointer) {
    precondition(offset + UInt64(from.count) <= UInt64(bytes.count))
    for i in 0..<from.count { bytes[Int(offset) + i] = from[i] }
  }
  func snapshot() -> [UInt8] { bytes }
}

/// `GuestRAM` over an allocated host buffer.
final class HostBufferRAM {
  let memory: GuestRAM
  let buffer: UnsafeMutableRawBufferPointer
  init(ram: IPARange) {
    buffer = .allocate(byteCount: Int(ram.size), alignment: 16)
    for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: i &* 7 &+ 1) }
    memory = GuestRAM(ram: ram, host: buffer.baseAddress!)
  }
  deinit { buffer.deallocate() }
  func snapshot() -> [UInt8] { Array(buffer) }
}

@Suite struct GuestMemoryTests {
  static let ram = IPARange(base: IPA(0x4000_0000), size: 0x1000)
  static let base: UInt64 = 0x4000_0000
  static let end: UInt64 = 0x4000_1000

  /// `body` with `GuestRAM` over a host buffer that lives until it returns.
  func onHost(_ body: (GuestRAM) throws -> Void) throws {
    let h = HostBufferRAM(ram: Self.ram)
    try withExtendedLifetime(h) { try body(h.memory) }
  }

  func outside(_ address: UInt64, _ length: UInt64) -> GuestMemoryError { .outsideRAM(address: address, length: length) }

  // MARK: Checks, generic over the backing

  func startAndLastByte<M: GuestMemory>(_ m: M) throws {
    #expect(try m.offset(of: Self.base, length: 1) == 0)
    #expect(try m.offset(of: Self.end - 1, length: 1) == 0xFFF)
    #expect(try m.offset(of: Self.base, length: 0x1000) == 0)
    try m.write(UInt8(0xAB), at: Self.base)
    try m.write(UInt8(0xCD), at: Self.end - 1)
    #expect(try m.read(UInt8.self, at: Self.base) == 0xAB)
    #expect(try m.read(UInt8.self, at: Self.end - 1) == 0xCD)
    try m.write(UInt64(0x1122_3344_5566_7788), at: Self.end - 8)
    #expect(try m.read(UInt64.self, at: Self.end - 8) == 0x1122_3344_5566_7788)
    #expect(m.contains(Self.base, length: 0x1000))
  }

  func endAndStraddling<M: GuestMemory>(_ m: M) throws {
    // Zero-length at the end is fine; one byte there is not.
    #expect(try m.offset(of: Self.end, length: 0) == 0x1000)
    #expect(throws: outside(Self.end, 1)) { try m.offset(of: Self.end, length: 1) }
    #expect(throws: outside(Self.end + 1, 0)) { try m.offset(of: Self.end + 1, length: 0) }
    #expect(throws: outside(Self.end, 1)) { try m.read(UInt8.self, at: Self.end) }
    #expect(throws: outside(Self.end - 1, 2)) { try m.read(UInt16.self, at: Self.end - 1) }
    #expect(throws: outside(Self.end - 4, 8)) { try m.read(UInt64.self, at: Self.end - 4) }
    #expect(throws: outside(Self.base, 0x1001)) { try m.offset(of: Self.base, length: 0x1001) }
    #expect(throws: outside(Self.end - 2, 3)) { try m.read(at: Self.end - 2, count: 3) }
    #expect(!m.contains(Self.end - 1, length: 2))
  }

  func beforeTheStart<M: GuestMemory>(_ m: M) throws {
    #expect(throws: outside(Self.base - 1, 1)) { try m.read(UInt8.self, at: Self.base - 1) }
    #expect(throws: outside(Self.base - 2, 4)) { try m.read(UInt32.self, at: Self.base - 2) }
    #expect(throws: outside(Self.base - 1, 0)) { try m.offset(of: Self.base - 1, length: 0) }
    #expect(throws: outside(0, 8)) { try m.read(UInt64.self, at: 0) }
  }

  func wrapAround<M: GuestMemory>(_ m: M) throws {
    #expect(throws: outside(0xFFFF_FFFF_FFFF_FFF8, 16)) { try m.offset(of: 0xFFFF_FFFF_FFFF_FFF8, length: 16) }
    #expect(throws: outside(0xFFFF_FFFF_FFFF_FFFF, 2)) { try m.read(UInt16.self, at: 0xFFFF_FFFF_FFFF_FFFF) }
    #expect(throws: outside(Self.base + 8, UInt64.max)) { try m.offset(of: Self.base + 8, length: UInt64.max) }
    #expect(throws: outside(Self.base, UInt64.max)) { try m.offset(of: Self.base, length: UInt64.max) }
  }

  func everyWidth<M: GuestMemory>(_ m: M) throws {
    let at = Self.base + 0x100
    try m.write(UInt8(0x81), at: at); #expect(try m.read(UInt8.self, at: at) == 0x81)
    try m.write(Int8(-2), at: at); #expect(try m.read(Int8.self, at: at) == -2)
    try m.write(UInt16(0xBEEF), at: at); #expect(try m.read(UInt16.self, at: at) == 0xBEEF)
    try m.write(Int16(-12345), at: at); #expect(try m.read(Int16.self, at: at) == -12345)
    try m.write(UInt32(0xDEAD_BEEF), at: at); #expect(try m.read(UInt32.self, at: at) == 0xDEAD_BEEF)
    try m.write(Int32.min, at: at); #expect(try m.read(Int32.self, at: at) == Int32.min)
    try m.write(UInt64(0x0123_4567_89AB_CDEF), at: at)
    #expect(try m.read(UInt64.self, at: at) == 0x0123_4567_89AB_CDEF)
    // Little-endian in memory.
    #expect(try m.read(at: at, count: 8) == [0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01])
    #expect(try m.read(UInt32.self, at: at + 4) == 0x0123_4567)
    #expect(try m.read(UInt16.self, at: at) == 0xCDEF)
    try m.write(Int64(-1), at: at); #expect(try m.read(Int64.self, at: at) == -1)
    try m.write(UInt(0x55AA), at: at); #expect(try m.read(UInt.self, at: at) == 0x55AA)
  }

  func unaligned<M: GuestMemory>(_ m: M) throws {
    for misalignment: UInt64 in 1...7 {
      let at = Self.base + 0x200 + misalignment
      try m.write(UInt64(0x8877_6655_4433_2211), at: at)
      #expect(try m.read(at: at, count: 8) == [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88])
      #expect(try m.read(UInt64.self, at: at) == 0x8877_6655_4433_2211)
      #expect(try m.read(UInt32.self, at: at + 1) == 0x5544_3322)
      try m.write(UInt16(0xA55A), at: at + 3)
      #expect(try m.read(UInt64.self, at: at) == 0x8877_66A5_5A33_2211)
    }
  }

  func buffers<M: GuestMemory>(_ m: M) throws {
    try m.write([1, 2, 3, 4, 5], at: Self.end - 5)
    #expect(try m.read(at: Self.end - 5, count: 5) == [1, 2, 3, 4, 5])
    var out = [UInt8](repeating: 0, count: 3)
    try out.withUnsafeMutableBytes { b in try m.read(at: Self.end - 4, into: b) }
    #expect(out == [2, 3, 4])
    let bytes: [UInt8] = [9, 8, 7]
    try bytes.withUnsafeBytes { b in try m.write(b, at: Self.base + 1) }
    #expect(try m.read(at: Self.base, count: 4).dropFirst() == [9, 8, 7])
    // Zero-length buffers at the end touch nothing and do not fail.
    try m.write([], at: Self.end)
    #expect(try m.read(at: Self.end, count: 0) == [])
  }

  func failedWritesLeaveMemoryUntouched<M: GuestMemory>(_ m: M, _ snapshot: () -> [UInt8]) throws {
    let before = snapshot()
    #expect(throws: outside(Self.end - 4, 8)) { try m.write(UInt64.max, at: Self.end - 4) }
    #expect(throws: outside(Self.end - 1, 2)) { try m.write(UInt16.max, at: Self.end - 1) }
    #expect(throws: outside(Self.base - 1, 4)) { try m.write(UInt32.max, at: Self.base - 1) }
    #expect(throws: outside(Self.end - 2, 4)) { try m.write([0xFF, 0xFF, 0xFF, 0xFF], at: Self.end - 2) }
    #expect(throws: outside(0xFFFF_FFFF_FFFF_FFF8, 16)) { try m.write([UInt8](repeating: 0xFF, count: 16), at: 0xFFFF_FFFF_FFFF_FFF8) }
    let big = [UInt8](repeating: 0xEE, count: 0x1001)
    #expect(throws: outside(Self.base, 0x1001)) { try m.write(big, at: Self.base) }
    #expect(snapshot() == before)
    // A failed read leaves the destination untouched too.
    var out = [UInt8](repeating: 0x5A, count: 4)
    #expect(throws: outside(Self.end - 2, 4)) {
      try out.withUnsafeMutableBytes { b in try m.read(at: Self.end - 2, into: b) }
    }
    #expect(out == [0x5A, 0x5A, 0x5A, 0x5A])
  }

  // MARK: Tests: each check on the byte array and on GuestRAM over a host buffer

  @Test func startAndLastByte() throws {
    try startAndLastByte(ByteArrayRAM(ram: Self.ram))
    try onHost { try startAndLastByte($0) }
  }
  @Test func endAndStraddlingTheEnd() throws {
    try endAndStraddling(ByteArrayRAM(ram: Self.ram))
    try onHost { try endAndStraddling($0) }
  }
  @Test func beforeTheStartIsOutside() throws {
    try beforeTheStart(ByteArrayRAM(ram: Self.ram))
    try onHost { try beforeTheStart($0) }
  }
  @Test func wrappingAddressesAreOutside() throws {
    try wrapAround(ByteArrayRAM(ram: Self.ram))
    try onHost { try wrapAround($0) }
    // RAM at the very top of the address space: the wrap is still caught.
    let top = IPARange(base: IPA(0xFFFF_FFFF_FFFF_F000), size: 0xFF0)
    let m = ByteArrayRAM(ram: top)
    #expect(throws: outside(0xFFFF_FFFF_FFFF_FFF8, 16)) { try m.offset(of: 0xFFFF_FFFF_FFFF_FFF8, length: 16) }
    #expect(try m.offset(of: 0xFFFF_FFFF_FFFF_FFE8, length: 8) == 0xFE8)
  }
  @Test func everyIntegerWidth() throws {
    try everyWidth(ByteArrayRAM(ram: Self.ram))
    try onHost { try everyWidth($0) }
  }
  @Test func unalignedAccesses() throws {
    try unaligned(ByteArrayRAM(ram: Self.ram))
    try onHost { try unaligned($0) }
  }
  @Test func byteBuffers() throws {
    try buffers(ByteArrayRAM(ram: Self.ram))
    try onHost { try buffers($0) }
  }
  @Test func failedWritesLeaveMemoryUntouched() throws {
    let fake = ByteArrayRAM(ram: Self.ram)
    try failedWritesLeaveMemoryUntouched(fake, fake.snapshot)
    let host = HostBufferRAM(ram: Self.ram)
    try failedWritesLeaveMemoryUntouched(host.memory, host.snapshot)
  }
  @Test func guestRAMWritesThroughItsHostPointer() throws {
    let host = HostBufferRAM(ram: Self.ram)
    try host.memory.write(UInt32(0x0403_0201), at: Self.base + 0x10)
    #expect(Array(host.buffer[0x10..<0x14]) == [1, 2, 3, 4])
    host.buffer[0xFFF] = 0x77
    #expect(try host.memory.read(UInt8.self, at: Self.end - 1) == 0x77)
  }
}

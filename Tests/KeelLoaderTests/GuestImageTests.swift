import Testing
@testable import KeelLoader

let ramBase: UInt64 = 0x4000_0000
let ramSize: UInt64 = 64 << 20
let ramEnd = ramBase + ramSize

extension Array where Element == UInt8 {
  mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
    let width = T.bitWidth / 8
    if count < offset + width { append(contentsOf: repeatElement(0, count: offset + width - count)) }
    for index in 0..<width { self[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
  }
}

/// A minimal arm64 Image: the 64-byte header followed by `bodySize` bytes.
func linuxImage(textOffset: UInt64 = 0x20_0000, imageSize: UInt64 = 0x10_0000, flags: UInt64 = 0b1010, bodySize: Int = 0x1000) -> [UInt8] {
  var bytes = [UInt8](repeating: 0, count: 64 + bodySize)
  bytes.put(UInt32(0x9100_0000), at: 0)  // code0: a nop-like add
  bytes.put(textOffset, at: 8)
  bytes.put(imageSize, at: 16)
  bytes.put(flags, at: 24)
  bytes.put(UInt32(0x644D_5241), at: 56)
  return bytes
}

struct ProgramHeader {
  var type: UInt32 = 1
  var offset: UInt64
  var paddr: UInt64
  var fileSize: UInt64
  var memorySize: UInt64
}

/// An ELF64 header, then the program headers at 64, then payload up to `totalSize`.
func elf(entry: UInt64, _ headers: [ProgramHeader], totalSize: Int = 0x3000,
         machine: UInt16 = 183, type: UInt16 = 2, elfClass: UInt8 = 2, data: UInt8 = 1,
         phentsize: UInt16 = 56, phnum: UInt16? = nil) -> [UInt8] {
  var bytes = [UInt8](repeating: 0, count: max(totalSize, 64 + 56 * headers.count))
  bytes[0] = 0x7F; bytes[1] = 0x45; bytes[2] = 0x4C; bytes[3] = 0x46
  bytes[4] = elfClass; bytes[5] = data; bytes[6] = 1
  bytes.put(type, at: 16)
  bytes.put(machine, at: 18)
  bytes.put(UInt32(1), at: 20)
  bytes.put(entry, at: 24)
  bytes.put(UInt64(64), at: 32)
  bytes.put(UInt16(64), at: 52)
  bytes.put(phentsize, at: 54)
  bytes.put(phnum ?? UInt16(headers.count), at: 56)
  for (index, header) in headers.enumerated() {
    let at = 64 + 56 * index
    bytes.put(header.type, at: at)
    bytes.put(UInt32(5), at: at + 4)
    bytes.put(header.offset, at: at + 8)
    bytes.put(header.paddr, at: at + 16)
    bytes.put(header.paddr, at: at + 24)
    bytes.put(header.fileSize, at: at + 32)
    bytes.put(header.memorySize, at: at + 40)
    bytes.put(UInt64(0x1000), at: at + 48)
  }
  return bytes
}

func plan(_ bytes: [UInt8], base: UInt64 = ramBase, size: UInt64 = ramSize, loadAddress: UInt64? = nil) throws(GuestImageError) -> GuestImagePlan {
  var result: Result<GuestImagePlan, GuestImageError> = .failure(.emptyImage)
  bytes.withUnsafeBytes { raw in
    do throws(GuestImageError) {
      result = .success(try GuestImage.plan(raw, ramBase: base, ramSize: size, loadAddress: loadAddress))
    } catch { result = .failure(error) }
  }
  return try result.get()
}

// MARK: - Linux Image

@Test func linuxImageLoadsAtTextOffsetFromRAMBase() throws {
  let bytes = linuxImage(textOffset: 0x20_0000, imageSize: 0x18_0000)
  let p = try plan(bytes)
  #expect(p.format == .linuxImage)
  #expect(p.entry == ramBase + 0x20_0000)
  #expect(p.segments == [GuestLoadSegment(fileOffset: 0, fileSize: bytes.count, guestAddress: ramBase + 0x20_0000, memorySize: 0x18_0000)])
  #expect(p.lowestAddress == ramBase + 0x20_0000)
  #expect(p.endAddress == ramBase + 0x20_0000 + 0x18_0000)
}

@Test func linuxImageWithZeroImageSizeUsesLegacyTextOffset() throws {
  let bytes = linuxImage(textOffset: 0xDEAD_0000, imageSize: 0)
  let p = try plan(bytes)
  #expect(p.entry == ramBase + 0x8_0000)
  #expect(p.endAddress == p.entry + UInt64(bytes.count))
}

@Test func linuxImageHonoursAlignedLoadAddress() throws {
  let p = try plan(linuxImage(textOffset: 0), loadAddress: ramBase + 0x40_0000)
  #expect(p.entry == ramBase + 0x40_0000)
  #expect(throws: GuestImageError.misalignedLoadAddress(ramBase + 0x1000, requiredAlignment: 2 << 20)) {
    try plan(linuxImage(), loadAddress: ramBase + 0x1000)
  }
}

@Test func linuxImageRAMBaseIsRoundedUpTo2MiB() throws {
  let p = try plan(linuxImage(textOffset: 0x8_0000), base: 0x4010_0000, size: ramSize)
  #expect(p.entry == 0x4020_0000 + 0x8_0000)
}

@Test func bigEndianImageIsRejected() {
  #expect(throws: GuestImageError.bigEndianImage) { try plan(linuxImage(flags: 0b1011)) }
}

@Test func imageLargerThanRAMIsRejected() {
  #expect(throws: GuestImageError.outsideRAM(what: "arm64 Image", start: ramBase + 0x20_0000, size: ramSize)) {
    try plan(linuxImage(imageSize: ramSize))
  }
}

@Test func hostileImageFieldsDoNotTrap() {
  #expect(throws: GuestImageError.addressOverflow(what: "Image base + text_offset")) {
    try plan(linuxImage(textOffset: .max))
  }
  #expect(throws: GuestImageError.addressOverflow(what: "arm64 Image")) {
    try plan(linuxImage(textOffset: 0, imageSize: .max))
  }
  #expect(throws: GuestImageError.self) { try plan(linuxImage(), loadAddress: 0xFFFF_FFFF_FFE0_0000) }
}

@Test func truncatedImageHeader() {
  let bytes = Array(linuxImage().prefix(60))  // magic present, header cut short
  #expect(throws: GuestImageError.truncated(what: "arm64 Image header", needed: 64, available: 60)) { try plan(bytes) }
}

// MARK: - ELF

@Test func elfSegmentsByPhysicalAddress() throws {
  let bytes = elf(entry: 0x4008_0010, [
    ProgramHeader(offset: 0x1000, paddr: 0x4008_0000, fileSize: 0x800, memorySize: 0x800),
    ProgramHeader(type: 4, offset: 0, paddr: 0, fileSize: 0, memorySize: 0),  // PT_NOTE: ignored
    ProgramHeader(offset: 0x1800, paddr: 0x4009_0000, fileSize: 0x100, memorySize: 0x5000),
  ])
  let p = try plan(bytes)
  #expect(p.format == .elf)
  #expect(p.entry == 0x4008_0010)
  #expect(p.segments == [
    GuestLoadSegment(fileOffset: 0x1000, fileSize: 0x800, guestAddress: 0x4008_0000, memorySize: 0x800),
    GuestLoadSegment(fileOffset: 0x1800, fileSize: 0x100, guestAddress: 0x4009_0000, memorySize: 0x5000),
  ])
  #expect(p.lowestAddress == 0x4008_0000)
  #expect(p.endAddress == 0x4009_5000)
}

@Test func elfIgnoresLoadAddress() throws {
  let bytes = elf(entry: 0x4008_0000, [ProgramHeader(offset: 0x1000, paddr: 0x4008_0000, fileSize: 0x10, memorySize: 0x10)])
  #expect(try plan(bytes, loadAddress: ramBase).entry == 0x4008_0000)
}

@Test func elfHeaderChecks() {
  let segment = [ProgramHeader(offset: 0x1000, paddr: 0x4008_0000, fileSize: 0x10, memorySize: 0x10)]
  #expect(throws: GuestImageError.unsupportedELF("not a 64-bit ELF")) { try plan(elf(entry: 0x4008_0000, segment, elfClass: 1)) }
  #expect(throws: GuestImageError.unsupportedELF("not little-endian")) { try plan(elf(entry: 0x4008_0000, segment, data: 2)) }
  #expect(throws: GuestImageError.unsupportedELF("machine 62 is not AArch64 (183)")) { try plan(elf(entry: 0x4008_0000, segment, machine: 62)) }
  #expect(throws: GuestImageError.unsupportedELF("type 3 is not an executable (ET_EXEC)")) { try plan(elf(entry: 0x4008_0000, segment, type: 3)) }
  #expect(throws: GuestImageError.noLoadableSegments) { try plan(elf(entry: 0x4008_0000, [])) }
  #expect(throws: GuestImageError.self) { try plan(elf(entry: 0x4008_0000, segment, phentsize: 32)) }
  #expect(throws: GuestImageError.self) { try plan(elf(entry: 0x4008_0000, segment, phnum: 0xFFFF)) }
}

@Test func elfSegmentValidation() {
  #expect(throws: GuestImageError.segmentFileSizeExceedsMemorySize(segment: 0, fileSize: 0x20, memorySize: 0x10)) {
    try plan(elf(entry: 0x4008_0000, [ProgramHeader(offset: 0x1000, paddr: 0x4008_0000, fileSize: 0x20, memorySize: 0x10)]))
  }
  #expect(throws: GuestImageError.segmentOutsideImage(segment: 0, offset: 0x2F00, size: 0x200, imageSize: 0x3000)) {
    try plan(elf(entry: 0x4008_0000, [ProgramHeader(offset: 0x2F00, paddr: 0x4008_0000, fileSize: 0x200, memorySize: 0x200)]))
  }
  #expect(throws: GuestImageError.segmentOutsideImage(segment: 0, offset: .max, size: 2, imageSize: 0x3000)) {
    try plan(elf(entry: 0x4008_0000, [ProgramHeader(offset: .max, paddr: 0x4008_0000, fileSize: 2, memorySize: 2)]))
  }
  #expect(throws: GuestImageError.outsideRAM(what: "ELF segment 0", start: 0x1000, size: 0x10)) {
    try plan(elf(entry: 0x1000, [ProgramHeader(offset: 0x1000, paddr: 0x1000, fileSize: 0x10, memorySize: 0x10)]))
  }
  // Straddles the end of RAM.
  #expect(throws: GuestImageError.outsideRAM(what: "ELF segment 0", start: ramEnd - 0x10, size: 0x20)) {
    try plan(elf(entry: ramEnd - 0x10, [ProgramHeader(offset: 0x1000, paddr: ramEnd - 0x10, fileSize: 0x10, memorySize: 0x20)]))
  }
  #expect(throws: GuestImageError.addressOverflow(what: "ELF segment 0")) {
    try plan(elf(entry: 0x4008_0000, [ProgramHeader(offset: 0x1000, paddr: 0xFFFF_FFFF_FFFF_F000, fileSize: 0, memorySize: 0x2000)]))
  }
  #expect(throws: GuestImageError.overlappingSegments(0, 1)) {
    try plan(elf(entry: 0x4008_0000, [
      ProgramHeader(offset: 0x1000, paddr: 0x4008_0000, fileSize: 0x10, memorySize: 0x2000),
      ProgramHeader(offset: 0x1000, paddr: 0x4008_1000, fileSize: 0x10, memorySize: 0x10),
    ]))
  }
  #expect(throws: GuestImageError.entryNotInLoadedSegment(0x4010_0000)) {
    try plan(elf(entry: 0x4010_0000, [ProgramHeader(offset: 0x1000, paddr: 0x4008_0000, fileSize: 0x10, memorySize: 0x10)]))
  }
}

@Test func truncatedELF() {
  let full = elf(entry: 0x4008_0000, [ProgramHeader(offset: 0x1000, paddr: 0x4008_0000, fileSize: 0x10, memorySize: 0x10)])
  #expect(throws: GuestImageError.truncated(what: "ELF header", needed: 64, available: 40)) { try plan(Array(full.prefix(40))) }
  #expect(throws: GuestImageError.truncated(what: "ELF program header table", needed: 120, available: 100)) { try plan(Array(full.prefix(100))) }
  // A program header table offset near 2^64.
  var hostile = full
  hostile.put(UInt64.max - 8, at: 32)
  #expect(throws: GuestImageError.truncated(what: "ELF program header table", needed: .max, available: full.count)) { try plan(hostile) }
}

// MARK: - Raw and unknown

@Test func rawNeedsALoadAddress() throws {
  let bytes = [UInt8](repeating: 0xAA, count: 100)
  #expect(throws: GuestImageError.unrecognizedFormat) { try plan(bytes) }
  let p = try plan(bytes, loadAddress: ramBase + 0x1_0000)
  #expect(p == GuestImagePlan(format: .raw, segments: [GuestLoadSegment(fileOffset: 0, fileSize: 100, guestAddress: ramBase + 0x1_0000, memorySize: 100)],
                              entry: ramBase + 0x1_0000, lowestAddress: ramBase + 0x1_0000, endAddress: ramBase + 0x1_0000 + 100))
  #expect(throws: GuestImageError.misalignedLoadAddress(ramBase + 0x1000, requiredAlignment: 0x1_0000)) { try plan(bytes, loadAddress: ramBase + 0x1000) }
  #expect(throws: GuestImageError.outsideRAM(what: "raw image", start: ramEnd, size: 100)) { try plan(bytes, loadAddress: ramEnd) }
  #expect(throws: GuestImageError.outsideRAM(what: "raw image", start: 0xFFFF_FFFF_FFFF_0000, size: 100)) { try plan(bytes, loadAddress: 0xFFFF_FFFF_FFFF_0000) }
  let big = [UInt8](repeating: 0xAA, count: 0x1_0001)
  #expect(throws: GuestImageError.addressOverflow(what: "raw image")) { try plan(big, loadAddress: 0xFFFF_FFFF_FFFF_0000) }
}

@Test func emptyAndInvalidRAM() {
  #expect(throws: GuestImageError.emptyImage) { try plan([]) }
  #expect(throws: GuestImageError.invalidRAM(base: .max, size: 2)) { try plan(linuxImage(), base: .max, size: 2) }
  #expect(throws: GuestImageError.invalidRAM(base: ramBase, size: 0)) { try plan(linuxImage(), size: 0) }
}

@Test func errorDescriptionsAreOneLine() {
  let errors: [GuestImageError] = [
    .emptyImage, .bigEndianImage, .unrecognizedFormat, .noLoadableSegments,
    .truncated(what: "ELF header", needed: 64, available: 3), .misalignedLoadAddress(0x1000, requiredAlignment: 0x20_0000),
    .doesNotFit(what: "initrd", end: 0x5000_0000, ramEnd: 0x4400_0000),
  ]
  for error in errors {
    #expect(!error.description.isEmpty)
    #expect(!error.description.contains("\n"))
  }
  #expect(GuestImageError.unrecognizedFormat.description.contains("--load-address"))
  #expect(GuestImageError.misalignedLoadAddress(0x1000, requiredAlignment: 0x20_0000).description.contains("0x200000"))
}

/// Every prefix of valid images and a few scrambled ones: the planner must answer, never trap.
@Test func everyPrefixIsHandled() {
  let images = [
    linuxImage(bodySize: 64),
    elf(entry: 0x4008_0000, [ProgramHeader(offset: 0x100, paddr: 0x4008_0000, fileSize: 0x10, memorySize: 0x10)], totalSize: 0x110),
  ]
  for image in images {
    for length in 0...image.count {
      _ = try? plan(Array(image.prefix(length)))
      _ = try? plan(Array(image.prefix(length)), loadAddress: ramBase)
    }
    var scrambled = image
    var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
    for _ in 0..<2000 {
      seed = seed &* 6364136223846793005 &+ 1442695040888963407
      scrambled[Int(seed >> 33) % scrambled.count] = UInt8(truncatingIfNeeded: seed >> 17)
      _ = try? plan(scrambled)
    }
  }
}

// MARK: - Boot layout

@Test func dtbAndInitrdFollowTheKernel() throws {
  let p = try plan(linuxImage(textOffset: 0, imageSize: 0x30_0000))  // ends at ramBase + 3 MiB
  let layout = try GuestBootLayout.place(after: p, ramBase: ramBase, ramSize: ramSize, initrdSize: 0x12345)
  #expect(layout == GuestBootLayout(dtbAddress: ramBase + 0x40_0000, initrdAddress: ramBase + 0x60_0000, initrdSize: 0x12345))
  let none = try GuestBootLayout.place(after: p, ramBase: ramBase, ramSize: ramSize, initrdSize: nil)
  #expect(none == GuestBootLayout(dtbAddress: ramBase + 0x40_0000, initrdAddress: nil, initrdSize: 0))
}

@Test func alignedKernelEndNeedsNoPadding() throws {
  let p = try plan(linuxImage(textOffset: 0, imageSize: 0x20_0000))
  #expect(try GuestBootLayout.place(after: p, ramBase: ramBase, ramSize: ramSize, initrdSize: nil).dtbAddress == ramBase + 0x20_0000)
}

@Test func layoutThatRunsPastRAMIsRejected() throws {
  let small: UInt64 = 8 << 20
  let p = try plan(linuxImage(textOffset: 0, imageSize: 0x50_0000), size: small)  // ends at 5 MiB, DTB 6..8 MiB
  let fits = try GuestBootLayout.place(after: p, ramBase: ramBase, ramSize: small, initrdSize: nil)
  #expect(fits.dtbAddress == ramBase + 0x60_0000)
  #expect(throws: GuestImageError.doesNotFit(what: "initrd", end: ramBase + small + 1, ramEnd: ramBase + small)) {
    try GuestBootLayout.place(after: p, ramBase: ramBase, ramSize: small, initrdSize: 1)
  }
  #expect(throws: GuestImageError.doesNotFit(what: "initrd", end: .max, ramEnd: ramBase + small)) {
    try GuestBootLayout.place(after: p, ramBase: ramBase, ramSize: small, initrdSize: .max)
  }
  let tight = try plan(linuxImage(textOffset: 0, imageSize: 0x61_0000), size: small)
  #expect(throws: GuestImageError.doesNotFit(what: "device tree (2 MiB slot after the kernel)", end: ramBase + 0xA0_0000, ramEnd: ramBase + small)) {
    try GuestBootLayout.place(after: tight, ramBase: ramBase, ramSize: small, initrdSize: nil)
  }
}

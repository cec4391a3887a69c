/// What kind of guest image a file is.
public enum GuestImageFormat: Equatable, Sendable {
  /// arm64 Linux `Image` (Documentation/arch/arm64/booting.rst).
  case linuxImage
  /// ELF64 little-endian AArch64 executable.
  case elf
  /// Flat binary loaded at an address the user chose.
  case raw
}

/// One copy: `fileSize` bytes from `fileOffset` in the image to `guestAddress`, then zeros up
/// to `memorySize`.
public struct GuestLoadSegment: Equatable, Sendable {
  public var fileOffset: Int
  public var fileSize: Int
  public var guestAddress: UInt64
  public var memorySize: UInt64

  public init(fileOffset: Int, fileSize: Int, guestAddress: UInt64, memorySize: UInt64) {
    self.fileOffset = fileOffset; self.fileSize = fileSize
    self.guestAddress = guestAddress; self.memorySize = memorySize
  }
}

/// A validated plan: every segment lies inside guest RAM and inside the image, and the entry
/// point is inside a loaded segment.
public struct GuestImagePlan: Equatable, Sendable {
  public var format: GuestImageFormat
  public var segments: [GuestLoadSegment]
  public var entry: UInt64
  public var lowestAddress: UInt64
  /// Exclusive; includes bss (ELF `p_memsz`, Image `image_size`).
  public var endAddress: UInt64

  public init(format: GuestImageFormat, segments: [GuestLoadSegment], entry: UInt64, lowestAddress: UInt64, endAddress: UInt64) {
    self.format = format; self.segments = segments; self.entry = entry
    self.lowestAddress = lowestAddress; self.endAddress = endAddress
  }
}

public enum GuestImageError: Error, Equatable, Sendable, CustomStringConvertible {
  case emptyImage
  /// The RAM description itself is unusable (zero size, or base + size overflows).
  case invalidRAM(base: UInt64, size: UInt64)
  /// The file ends inside a header or table it claims to have.
  case truncated(what: String, needed: UInt64, available: Int)
  case bigEndianImage
  case misalignedLoadAddress(UInt64, requiredAlignment: UInt64)
  /// Address arithmetic on values from the image wrapped around 2^64.
  case addressOverflow(what: String)
  /// [start, start + size) is not entirely inside guest RAM.
  case outsideRAM(what: String, start: UInt64, size: UInt64)
  case unsupportedELF(String)
  case segmentFileSizeExceedsMemorySize(segment: Int, fileSize: UInt64, memorySize: UInt64)
  case segmentOutsideImage(segment: Int, offset: UInt64, size: UInt64, imageSize: Int)
  case overlappingSegments(Int, Int)
  case noLoadableSegments
  case entryNotInLoadedSegment(UInt64)
  case unrecognizedFormat
  /// The boot layout (image, DTB, initrd) runs past the end of RAM.
  case doesNotFit(what: String, end: UInt64, ramEnd: UInt64)

  public var description: String {
    switch self {
    case .emptyImage:
      return "guest image is empty"
    case .invalidRAM(let base, let size):
      return "invalid guest RAM: base \(hex(base)), size \(hex(size))"
    case .truncated(let what, let needed, let available):
      return "guest image truncated: \(what) needs \(needed) bytes but the file has \(available)"
    case .bigEndianImage:
      return "big-endian arm64 Linux Image is not supported"
    case .misalignedLoadAddress(let address, let alignment):
      return "load address \(hex(address)) is not aligned to \(hex(alignment))"
    case .addressOverflow(let what):
      return "address arithmetic overflows for \(what)"
    case .outsideRAM(let what, let start, let size):
      return "\(what) at \(hex(start)) (size \(hex(size))) does not fit inside guest RAM"
    case .unsupportedELF(let reason):
      return "unsupported ELF: \(reason)"
    case .segmentFileSizeExceedsMemorySize(let segment, let fileSize, let memorySize):
      return "ELF segment \(segment): file size \(hex(fileSize)) exceeds memory size \(hex(memorySize))"
    case .segmentOutsideImage(let segment, let offset, let size, let imageSize):
      return "ELF segment \(segment): file range \(hex(offset))+\(hex(size)) lies outside the \(imageSize)-byte image"
    case .overlappingSegments(let a, let b):
      return "ELF segments \(a) and \(b) overlap in guest memory"
    case .noLoadableSegments:
      return "ELF has no loadable (PT_LOAD) segments"
    case .entryNotInLoadedSegment(let entry):
      return "entry point \(hex(entry)) is not inside a loaded segment"
    case .unrecognizedFormat:
      return "neither an arm64 Linux Image nor an aarch64 ELF executable (pass --load-address to boot a raw binary)"
    case .doesNotFit(let what, let end, let ramEnd):
      return "\(what) does not fit in guest RAM: it ends at \(hex(end)), RAM ends at \(hex(ramEnd))"
    }
  }
}

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

/// Little-endian fixed-width reads that return nil past the end instead of trapping.
struct LEReader {
  let bytes: UnsafeRawBufferPointer

  func u16(at offset: Int) -> UInt16? { read(at: offset, width: 2).map { UInt16(truncatingIfNeeded: $0) } }
  func u32(at offset: Int) -> UInt32? { read(at: offset, width: 4).map { UInt32(truncatingIfNeeded: $0) } }
  func u64(at offset: Int) -> UInt64? { read(at: offset, width: 8) }

  private func read(at offset: Int, width: Int) -> UInt64? {
    guard offset >= 0, width <= bytes.count, offset <= bytes.count - width else { return nil }
    var value: UInt64 = 0
    for index in 0..<width { value |= UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
    return value
  }
}

/// Guest RAM as a half-open range whose end is known not to overflow.
struct RAMRange {
  let base: UInt64
  let end: UInt64

  init(base: UInt64, size: UInt64) throws(GuestImageError) {
    let (end, overflow) = base.addingReportingOverflow(size)
    guard size > 0, !overflow else { throw .invalidRAM(base: base, size: size) }
    self.base = base
    self.end = end
  }

  func check(_ what: String, start: UInt64, size: UInt64) throws(GuestImageError) {
    let (end, overflow) = start.addingReportingOverflow(size)
    guard !overflow else { throw .addressOverflow(what: what) }
    guard start >= base, end <= self.end else { throw .outsideRAM(what: what, start: start, size: size) }
  }
}

func alignUp(_ value: UInt64, to alignment: UInt64) -> UInt64? {
  let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
  return overflow ? nil : sum & ~(alignment - 1)
}

public enum GuestImage {
  public static let mib2: UInt64 = 2 << 20
  public static let rawAlignment: UInt64 = 64 << 10

  /// Works out where `image` goes in guest RAM [ramBase, ramBase + ramSize).
  ///
  /// Tries an arm64 Linux Image, then an AArch64 ELF executable, then (only when
  /// `loadAddress` is given) a raw binary. For an Image, `loadAddress` replaces the 2 MiB
  /// aligned base that `text_offset` is added to; for an ELF it is ignored, since the ELF
  /// states its own physical addresses.
  public static func plan(
    _ image: UnsafeRawBufferPointer, ramBase: UInt64, ramSize: UInt64, loadAddress: UInt64?
  ) throws(GuestImageError) -> GuestImagePlan {
    let ram = try RAMRange(base: ramBase, size: ramSize)
    guard !image.isEmpty else { throw .emptyImage }
    let reader = LEReader(bytes: image)
    if reader.u32(at: LinuxImageHeader.magicOffset) == LinuxImageHeader.magic {
      return try planLinuxImage(reader, ram: ram, loadAddress: loadAddress)
    }
    if image.count >= 4, reader.u32(at: 0) == ELF.magic {
      return try planELF(reader, ram: ram)
    }
    if let loadAddress {
      return try planRaw(image.count, ram: ram, loadAddress: loadAddress)
    }
    throw .unrecognizedFormat
  }

  static func planLinuxImage(_ reader: LEReader, ram: RAMRange, loadAddress: UInt64?) throws(GuestImageError) -> GuestImagePlan {
    let size = reader.bytes.count
    guard let textOffsetField = reader.u64(at: LinuxImageHeader.textOffset),
          let imageSize = reader.u64(at: LinuxImageHeader.imageSize),
          let flags = reader.u64(at: LinuxImageHeader.flags)
    else { throw .truncated(what: "arm64 Image header", needed: UInt64(LinuxImageHeader.size), available: size) }
    guard size >= LinuxImageHeader.size else {
      throw .truncated(what: "arm64 Image header", needed: UInt64(LinuxImageHeader.size), available: size)
    }
    guard flags & LinuxImageHeader.flagBigEndian == 0 else { throw .bigEndianImage }
    // booting.rst: before v3.17 image_size is 0 and text_offset's endianness is unspecified;
    // it may then be assumed to be 0x80000.
    let textOffset = imageSize == 0 ? LinuxImageHeader.legacyTextOffset : textOffsetField

    let base: UInt64
    if let loadAddress {
      guard loadAddress & (mib2 - 1) == 0 else { throw .misalignedLoadAddress(loadAddress, requiredAlignment: mib2) }
      base = loadAddress
    } else {
      guard let aligned = alignUp(ram.base, to: mib2) else { throw .addressOverflow(what: "2 MiB aligned RAM base") }
      base = aligned
    }
    let (loadAt, overflow) = base.addingReportingOverflow(textOffset)
    guard !overflow else { throw .addressOverflow(what: "Image base + text_offset") }
    // image_size covers bss; a file longer than image_size (never produced by Linux) still
    // has all its bytes copied.
    let memorySize = max(imageSize, UInt64(size))
    try ram.check("arm64 Image", start: loadAt, size: memorySize)
    let segment = GuestLoadSegment(fileOffset: 0, fileSize: size, guestAddress: loadAt, memorySize: memorySize)
    return GuestImagePlan(format: .linuxImage, segments: [segment], entry: loadAt, lowestAddress: loadAt, endAddress: loadAt + memorySize)
  }

  static func planELF(_ reader: LEReader, ram: RAMRange) throws(GuestImageError) -> GuestImagePlan {
    let size = reader.bytes.count
    guard size >= ELF.headerSize else { throw .truncated(what: "ELF header", needed: UInt64(ELF.headerSize), available: size) }
    let bytes = reader.bytes
    guard bytes[ELF.classOffset] == ELF.class64 else { throw .unsupportedELF("not a 64-bit ELF") }
    guard bytes[ELF.dataOffset] == ELF.littleEndian else { throw .unsupportedELF("not little-endian") }
    // Header fields are in range: size >= headerSize was checked above.
    let type = reader.u16(at: 16)!, machine = reader.u16(at: 18)!
    let entry = reader.u64(at: 24)!, phoff = reader.u64(at: 32)!
    let phentsize = reader.u16(at: 54)!, phnum = reader.u16(at: 56)!
    guard machine == ELF.machineAArch64 else { throw .unsupportedELF("machine \(machine) is not AArch64 (183)") }
    guard type == ELF.typeExecutable else { throw .unsupportedELF("type \(type) is not an executable (ET_EXEC)") }
    guard phnum != ELF.extendedNumbering else { throw .unsupportedELF("extended program header numbering") }
    guard phnum > 0 else { throw .noLoadableSegments }
    guard Int(phentsize) >= ELF.programHeaderSize else { throw .unsupportedELF("program header entry size \(phentsize) is too small") }
    let (tableSize, tableOverflow) = UInt64(phentsize).multipliedReportingOverflow(by: UInt64(phnum))
    let (tableEnd, endOverflow) = phoff.addingReportingOverflow(tableSize)
    guard !tableOverflow, !endOverflow, tableEnd <= UInt64(size) else {
      throw .truncated(what: "ELF program header table", needed: endOverflow ? UInt64.max : tableEnd, available: size)
    }

    var segments: [GuestLoadSegment] = []
    var headerIndices: [Int] = []
    for index in 0..<Int(phnum) {
      let header = Int(phoff) + index * Int(phentsize)
      guard reader.u32(at: header)! == ELF.ptLoad else { continue }
      let offset = reader.u64(at: header + 8)!, paddr = reader.u64(at: header + 24)!
      let fileSize = reader.u64(at: header + 32)!, memorySize = reader.u64(at: header + 40)!
      guard fileSize <= memorySize else {
        throw .segmentFileSizeExceedsMemorySize(segment: index, fileSize: fileSize, memorySize: memorySize)
      }
      let (fileEnd, fileOverflow) = offset.addingReportingOverflow(fileSize)
      guard !fileOverflow, fileEnd <= UInt64(size) else {
        throw .segmentOutsideImage(segment: index, offset: offset, size: fileSize, imageSize: size)
      }
      guard memorySize > 0 else { continue }
      try ram.check("ELF segment \(index)", start: paddr, size: memorySize)
      segments.append(GuestLoadSegment(fileOffset: Int(offset), fileSize: Int(fileSize), guestAddress: paddr, memorySize: memorySize))
      headerIndices.append(index)
    }
    guard !segments.isEmpty else { throw .noLoadableSegments }

    for a in 0..<segments.count {
      for b in (a + 1)..<segments.count where segments[a].overlaps(segments[b]) {
        throw .overlappingSegments(headerIndices[a], headerIndices[b])
      }
    }
    guard segments.contains(where: { $0.contains(entry) }) else { throw .entryNotInLoadedSegment(entry) }
    var lowest = UInt64.max, end: UInt64 = 0
    for segment in segments {
      lowest = min(lowest, segment.guestAddress)
      end = max(end, segment.guestAddress + segment.memorySize)
    }
    return GuestImagePlan(format: .elf, segments: segments, entry: entry, lowestAddress: lowest, endAddress: end)
  }

  static func planRaw(_ size: Int, ram: RAMRange, loadAddress: UInt64) throws(GuestImageError) -> GuestImagePlan {
    guard loadAddress & (rawAlignment - 1) == 0 else {
      throw .misalignedLoadAddress(loadAddress, requiredAlignment: rawAlignment)
    }
    try ram.check("raw image", start: loadAddress, size: UInt64(size))
    let segment = GuestLoadSegment(fileOffset: 0, fileSize: size, guestAddress: loadAddress, memorySize: UInt64(size))
    return GuestImagePlan(format: .raw, segments: [segment], entry: loadAddress, lowestAddress: loadAddress, endAddress: loadAddress + UInt64(size))
  }
}

extension GuestLoadSegment {
  // Callers only use these on segments already checked to lie inside RAM (no overflow).
  func contains(_ address: UInt64) -> Bool { address >= guestAddress && address - guestAddress < memorySize }
  func overlaps(_ other: GuestLoadSegment) -> Bool {
    guestAddress < other.guestAddress + other.memorySize && other.guestAddress < guestAddress + memorySize
  }
}

/// arm64 Linux Image header layout (booting.rst, "Call the kernel image").
enum LinuxImageHeader {
  static let textOffset = 8
  static let imageSize = 16
  static let flags = 24
  static let magicOffset = 56
  static let size = 64
  /// "ARM\x64" little-endian.
  static let magic: UInt32 = 0x644D_5241
  static let flagBigEndian: UInt64 = 1
  static let legacyTextOffset: UInt64 = 0x80000
}

enum ELF {
  static let magic: UInt32 = 0x464C_457F  // "\x7fELF"
  static let classOffset = 4
  static let dataOffset = 5
  static let class64: UInt8 = 2
  static let littleEndian: UInt8 = 1
  static let typeExecutable: UInt16 = 2
  static let machineAArch64: UInt16 = 183
  static let headerSize = 64
  static let programHeaderSize = 56
  static let ptLoad: UInt32 = 1
  static let extendedNumbering: UInt16 = 0xFFFF
}

/// Where the boot-time blobs go after the kernel.
public struct GuestBootLayout: Equatable, Sendable {
  public var dtbAddress: UInt64
  public var initrdAddress: UInt64?
  public var initrdSize: UInt64

  public init(dtbAddress: UInt64, initrdAddress: UInt64?, initrdSize: UInt64) {
    self.dtbAddress = dtbAddress; self.initrdAddress = initrdAddress; self.initrdSize = initrdSize
  }
}

extension GuestBootLayout {
  /// The DTB slot is a whole 2 MiB block: booting.rst caps the DTB at 2 MiB and requires
  /// that its 2 MiB region carry no other mapping attributes.
  public static let dtbSlotSize: UInt64 = 2 << 20
  public static let pageSize: UInt64 = 4096

  /// DTB at the first 2 MiB-aligned address at/after `plan.endAddress`; the initrd right
  /// after the DTB's 2 MiB slot. An `initrdSize` of nil or 0 means no initrd.
  public static func place(after plan: GuestImagePlan, ramBase: UInt64, ramSize: UInt64, initrdSize: UInt64?) throws(GuestImageError) -> GuestBootLayout {
    let ram = try RAMRange(base: ramBase, size: ramSize)
    guard let dtb = alignUp(max(plan.endAddress, ram.base), to: dtbSlotSize) else {
      throw .addressOverflow(what: "device tree address")
    }
    let (dtbEnd, dtbOverflow) = dtb.addingReportingOverflow(dtbSlotSize)
    guard !dtbOverflow, dtbEnd <= ram.end else {
      throw .doesNotFit(what: "device tree (2 MiB slot after the kernel)", end: dtbOverflow ? UInt64.max : dtbEnd, ramEnd: ram.end)
    }
    guard let initrdSize, initrdSize > 0 else {
      return GuestBootLayout(dtbAddress: dtb, initrdAddress: nil, initrdSize: 0)
    }
    // dtbEnd is 2 MiB aligned, hence page aligned.
    let (initrdEnd, initrdOverflow) = dtbEnd.addingReportingOverflow(initrdSize)
    guard !initrdOverflow, initrdEnd <= ram.end else {
      throw .doesNotFit(what: "initrd", end: initrdOverflow ? UInt64.max : initrdEnd, ramEnd: ram.end)
    }
    return GuestBootLayout(dtbAddress: dtb, initrdAddress: dtbEnd, initrdSize: initrdSize)
  }
}

/// A parsed flattened device tree: header facts, the memory-reservation block and the node tree.
public struct FDT: Equatable, Sendable {
  public static let magic: UInt32 = 0xD00D_FEED
  /// Deeper trees are rejected; real ones are under 10 levels and the walkers recurse.
  public static let maxDepth = 64

  public var version: UInt32
  public var lastCompatibleVersion: UInt32
  public var bootCPUID: UInt32
  /// Entries of the `/memreserve/` block, without the terminating (0, 0) entry.
  public var memoryReservations: [MemoryRegion]
  public var root: FDTNode

  public init(root: FDTNode, memoryReservations: [MemoryRegion] = [], bootCPUID: UInt32 = 0,
              version: UInt32 = 17, lastCompatibleVersion: UInt32 = 16) {
    self.root = root
    self.memoryReservations = memoryReservations
    self.bootCPUID = bootCPUID
    self.version = version
    self.lastCompatibleVersion = lastCompatibleVersion
  }

  public init(parsing blob: UnsafeRawBufferPointer) throws(FDTError) {
    self = try FDTParser(blob).parse()
  }

  public init(parsing blob: [UInt8]) throws(FDTError) {
    let parsed: Result<FDT, FDTError> = blob.withUnsafeBytes { raw in
      do throws(FDTError) { return .success(try FDT(parsing: raw)) } catch { return .failure(error) }
    }
    self = try parsed.get()
  }
}

/// The fixed header. Reading it alone tells a caller holding only a physical address how many
/// bytes the whole blob spans (`totalSize`), before mapping or copying it.
public struct FDTHeader: Equatable, Sendable {
  public var totalSize: UInt32
  public var structureOffset: UInt32
  public var stringsOffset: UInt32
  public var memoryReservationOffset: UInt32
  public var version: UInt32
  public var lastCompatibleVersion: UInt32
  public var bootCPUID: UInt32
  public var stringsSize: UInt32
  /// Absent in version 16 headers; nil there.
  public var structureSize: UInt32?

  /// Bytes the header occupies for this version.
  public var headerSize: Int { version >= 17 ? 40 : 36 }

  /// Reads and checks magic and version. `bytes` may be just the first 40 bytes of the blob.
  public init(_ bytes: UnsafeRawBufferPointer) throws(FDTError) {
    guard let magic = readBE32(bytes, 0) else { throw .truncated(needed: 4, available: bytes.count) }
    guard magic == FDT.magic else { throw .badMagic(magic) }
    guard let version = readBE32(bytes, 20) else { throw .truncated(needed: 24, available: bytes.count) }
    guard version >= 16 else { throw .unsupportedVersion(version) }
    let size = version >= 17 ? 40 : 36
    guard bytes.count >= size else { throw .truncated(needed: size, available: bytes.count) }
    // The guard above makes every read below succeed.
    totalSize = readBE32(bytes, 4) ?? 0
    structureOffset = readBE32(bytes, 8) ?? 0
    stringsOffset = readBE32(bytes, 12) ?? 0
    memoryReservationOffset = readBE32(bytes, 16) ?? 0
    self.version = version
    lastCompatibleVersion = readBE32(bytes, 24) ?? 0
    bootCPUID = readBE32(bytes, 28) ?? 0
    stringsSize = readBE32(bytes, 32) ?? 0
    structureSize = version >= 17 ? readBE32(bytes, 36) : nil
  }

  public init(_ bytes: [UInt8]) throws(FDTError) {
    let parsed: Result<FDTHeader, FDTError> = bytes.withUnsafeBytes { raw in
      do throws(FDTError) { return .success(try FDTHeader(raw)) } catch { return .failure(error) }
    }
    self = try parsed.get()
  }
}

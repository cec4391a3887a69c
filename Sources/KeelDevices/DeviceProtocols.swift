/// A level-sensitive interrupt line into the vGIC (an SPI).
///
/// Devices call `set` only when the level they derive from their state changes, so a
/// conformer may treat every call as an edge.
public protocol IRQLine {
  mutating func set(_ level: Bool)
}

/// Where a device's transmitted bytes go (the host console, a test buffer).
public protocol ByteSink {
  mutating func write(_ byte: UInt8)
}

/// Why a saved device state was refused on restore.
public enum DeviceError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The saved receive FIFO holds more bytes than the FIFO mode it was saved in allows.
  case fifoOverflow(count: Int, capacity: Int)
  /// A saved register value has bits set that the register does not implement.
  case reservedBitsSet(offset: UInt16, value: UInt32)

  public var description: String {
    switch self {
    case .fifoOverflow(let count, let capacity):
      return "saved receive FIFO holds \(count) bytes but the FIFO takes at most \(capacity)"
    case .reservedBitsSet(let offset, let value):
      return "saved value 0x\(String(value, radix: 16)) for register at offset 0x\(String(offset, radix: 16)) sets unimplemented bits"
    }
  }
}

/// The PrimeCell identification registers (0xFE0–0xFFC) that Linux's AMBA bus reads at probe to
/// match a driver: the peripheral ID, then the cell ID 0xB105F00D, one byte per 32-bit word.
public struct PrimeCellID: Sendable {
  public static let first: UInt16 = 0xFE0
  public static let last: UInt16 = 0xFFC
  /// Cell ID in the high word, peripheral ID in the low word.
  let bytes: UInt64

  public init(peripheral: UInt32) { bytes = 0xB105_F00D << 32 | UInt64(peripheral) }

  /// The register at `offset`, or nil when `offset` is not one of them.
  public func register(at offset: UInt16) -> UInt32? {
    guard offset >= Self.first, offset <= Self.last, offset & 3 == 0 else { return nil }
    return UInt32(truncatingIfNeeded: bytes >> (UInt64(offset - Self.first) / 4 * 8) & 0xFF)
  }
}

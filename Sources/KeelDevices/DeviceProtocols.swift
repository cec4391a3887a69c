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

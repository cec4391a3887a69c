/// Console input waiting for the focused VM's virtual UART, whose FIFO holds only 16 bytes: a
/// paste or a burst of keys must not lose characters. When this queue is full too, the
/// hypervisor stops reading the host UART, and QEMU's (or the line's) flow control holds the rest.
public struct ConsoleInputQueue: Sendable {
  public let capacity: Int
  private var bytes: [UInt8] = []
  /// The next byte to hand over; bytes before it are gone.
  private var head = 0

  public init(capacity: Int = 4096) { self.capacity = capacity }

  public var count: Int { bytes.count - head }
  public var isEmpty: Bool { count == 0 }
  public var isFull: Bool { count >= capacity }

  /// Queues `byte` unless the queue is full (then it is dropped and the answer is false).
  @discardableResult
  public mutating func append(_ byte: UInt8) -> Bool {
    guard !isFull else { return false }
    bytes.append(byte)
    return true
  }

  /// Hands queued bytes to `accept`, oldest first, until it refuses one (the UART's FIFO is full)
  /// or none is left; a refused byte stays first in line.
  public mutating func feed(_ accept: (UInt8) -> Bool) {
    while head < bytes.count, accept(bytes[head]) { head += 1 }
    // Emptied: start over at the front, keeping the storage, so a steady trickle never grows it.
    if head == bytes.count { bytes.removeAll(keepingCapacity: true); head = 0 }
  }
}

/// Host interrupt number → what handles it, registered once at start (the timers, the console
/// UART, the maintenance and kick interrupts, and later the host's virtio devices) instead of a
/// chain of comparisons in the interrupt loop.
public struct HostInterruptTable<Handler> {
  public enum RegistrationError: Error, Equatable, Sendable {
    case outOfRange(UInt32)
    case alreadyRegistered(UInt32)
  }

  /// INTIDs 0–1019 (SGIs, PPIs and SPIs); 1020 and above are special.
  public static var capacity: Int { 1020 }
  private var handlers: [Handler?]

  public init() { handlers = [Handler?](repeating: nil, count: Self.capacity) }

  public mutating func register(_ intid: UInt32, _ handler: Handler) throws(RegistrationError) {
    guard Int(intid) < Self.capacity else { throw .outOfRange(intid) }
    guard handlers[Int(intid)] == nil else { throw .alreadyRegistered(intid) }
    handlers[Int(intid)] = handler
  }

  /// The handler of `intid`; nil for an interrupt nobody registered (or a special INTID).
  @inline(__always)
  public subscript(intid: UInt32) -> Handler? { Int(intid) < Self.capacity ? handlers[Int(intid)] : nil }
}

/// Something that must happen because of a device access or a host event, recorded as a value
/// and carried out by one applier after the access (device models never reach into the VM).
public enum DeviceEffect: Equatable, Sendable {
  /// A level-sensitive interrupt line (an SPI) goes high or low.
  case setLevel(intid: UInt32, high: Bool)
  /// An edge on an interrupt line (an MSI through a GICv2m frame): one edge, one interrupt.
  case edge(intid: UInt32)
  /// vCPUs (bit n = vCPU n) gained deliverable interrupts: wake or interrupt them.
  case kick(vcpus: UInt64)
  /// Private interrupts (bit n = INTID n) of the accessing vCPU whose hardware-linked physical
  /// copy must be deactivated, because the guest dropped the virtual one.
  case deactivateHardware(intids: UInt32)
  /// The guest took bytes from its console UART's receive FIFO: queued console input may follow.
  case consoleDrained
  /// The VM must power off, or reboot (a device's request, like a watchdog's).
  case powerOff
  case reset
}

/// Effects in the order they happened. Holds the common case (a handful per access) without
/// allocating: the trap path must not call the allocator for an ordinary register access.
public struct EffectList: Sendable {
  static let inlineCapacity = 8
  private var inline = InlineArray<8, DeviceEffect>(repeating: .consoleDrained)
  private var overflow: [DeviceEffect] = []
  public private(set) var count = 0

  public init() {}

  public var isEmpty: Bool { count == 0 }

  public mutating func append(_ effect: DeviceEffect) {
    if count < Self.inlineCapacity { inline[count] = effect } else { overflow.append(effect) }
    count += 1
  }

  public subscript(index: Int) -> DeviceEffect {
    precondition(index >= 0 && index < count, "effect index out of range")
    return index < Self.inlineCapacity ? inline[index] : overflow[index - Self.inlineCapacity]
  }

  public mutating func removeAll() {
    count = 0
    if !overflow.isEmpty { overflow.removeAll(keepingCapacity: true) }
  }

  /// In order, once each: the list is empty afterwards.
  public mutating func drain(_ body: (DeviceEffect) -> Void) {
    for i in 0..<count { body(self[i]) }
    removeAll()
  }
}

/// Where the devices of one VM record their effects. Shared by the VM's devices and lines and
/// drained by whoever made the access, under the lock that guards the devices.
public final class EffectQueue {
  public var effects = EffectList()
  public init() {}
  @inline(__always) public func record(_ effect: DeviceEffect) { effects.append(effect) }
}

/// An interrupt line whose changes become effects (`setLevel`), for the device models that are
/// generic over `IRQLine`.
public struct EffectLine: IRQLine {
  public unowned(unsafe) let queue: EffectQueue
  public let intid: UInt32
  public init(_ queue: EffectQueue, intid: UInt32) {
    self.queue = queue
    self.intid = intid
  }
  public mutating func set(_ level: Bool) { queue.record(.setLevel(intid: intid, high: level)) }
}

import KeelArch
import KeelDevices
import KeelVGIC

/// What must happen outside the devices once their effects have reached the vGIC: the part the
/// hypervisor shell carries out on hardware, after dropping the devices lock.
public struct ShellEffects: Equatable, Sendable {
  public var kick: UInt64 = 0
  public var deactivateHardware: UInt32 = 0
  public var consoleDrained = false
  public var powerOff = false
  public var reset = false
  public init() {}
  public var isEmpty: Bool { self == ShellEffects() }
}

/// A VM's emulated devices, built from its board: the vGIC, the UART, the power-button GPIO,
/// and the bus that routes the guest's MMIO accesses to them. `Console` is where the UART's
/// output goes. Everything here is guarded by `lock` (the VM's devices lock); the effects the
/// devices record are applied by `settle`, with that lock held, and by the shell after it.
public final class VMDevices<Console: ByteSink> {
  public let board: GuestBoard
  public let effects = EffectQueue()
  public let interrupts: InterruptController
  public let bus: MMIOBus
  public private(set) var uart: PL011Device<Console>! = nil
  public private(set) var powerButton: PowerButtonGPIO? = nil
  public private(set) var rtc: RTCDevice? = nil

  /// `realTime` is the VM's wall clock, which its RTC counts (it must outlive the devices).
  public init(board: GuestBoard, console: Console, realTime: any RealTimeSource) throws(BusError) {
    self.board = board
    interrupts = InterruptController(Self.freshVGIC(board), queue: effects)
    var bus = MMIOBus()
    for device in board.devices {
      switch device.kind {
      case .uart:
        uart = PL011Device(queue: effects, intid: board.uartINTID, out: console)
        try bus.attach(uart, base: device.base, size: device.size, category: .uart)
      case .gicDistributor:
        try bus.attach(GICFrameDevice(interrupts, .distributor), base: device.base, size: device.size, category: .gic)
      case .gicRedistributors:
        try bus.attach(GICFrameDevice(interrupts, .redistributors), base: device.base, size: device.size, category: .gic)
      case .powerButtonGPIO:
        let gpio = PowerButtonGPIO(queue: effects, intid: board.gpioINTID)
        powerButton = gpio
        try bus.attach(gpio, base: device.base, size: device.size, category: .gpio)
      case .rtc:
        let clock = RTCDevice(queue: effects, intid: board.rtc?.intid ?? 0, time: realTime)
        rtc = clock
        try bus.attach(clock, base: device.base, size: device.size, category: .rtc)
      }
    }
    self.bus = bus
  }

  static func freshVGIC(_ board: GuestBoard) -> VGIC {
    VGIC(version: board.gicVersion, affinities: board.cpuAffinities.map { Affinity(rawValue: $0) })
  }

  /// The vGIC as at power-on (a reboot).
  public func resetInterrupts() {
    interrupts.vgic = Self.freshVGIC(board)
    effects.effects.removeAll()
  }

  /// Applies the recorded effects in order, once each: interrupt lines reach the vGIC here
  /// (the caller holds the devices lock); what needs the hardware or the scheduler is returned
  /// for the shell to carry out after dropping the lock.
  @inline(__always)
  public func settle() -> ShellEffects {
    if effects.effects.isEmpty { return ShellEffects() }
    return settleRecorded()
  }

  func settleRecorded() -> ShellEffects {
    var shell = ShellEffects()
    effects.effects.drain { effect in
      switch effect {
      case .setLevel(let intid, let high): shell.kick |= interrupts.vgic.setLevel(intid: intid, high).kick
      case .edge(let intid): shell.kick |= interrupts.vgic.signalEdge(intid: intid).kick
      case .kick(let vcpus): shell.kick |= vcpus
      case .deactivateHardware(let intids): shell.deactivateHardware |= intids
      case .consoleDrained: shell.consoleDrained = true
      case .powerOff: shell.powerOff = true
      case .reset: shell.reset = true
      }
    }
    return shell
  }
}

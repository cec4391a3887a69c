import KeelArch

/// The guest's console UART on the bus: the PL011 model, with its line turned into effects.
public final class PL011Device<Out: ByteSink>: MMIODevice {
  public var model: PL011<EffectLine, Out>
  let queue: EffectQueue

  public init(queue: EffectQueue, intid: UInt32, out: Out) {
    self.queue = queue
    model = PL011(irq: EffectLine(queue, intid: intid), out: out)
  }

  public func read(at offset: UInt64, size: AccessSize, vcpu: Int) -> UInt64 {
    // Taking bytes from the receive FIFO makes room for console input waiting in the host.
    if offset & ~3 == UInt64(PL011Register.dr) { queue.record(.consoleDrained) }
    return WordRegisters.read(at: offset, size: size) { model.read(at: $0) }
  }

  public func write(_ value: UInt64, at offset: UInt64, size: AccessSize, vcpu: Int) {
    WordRegisters.write(value, at: offset) { model.write($0, at: $1) }
  }

  /// A byte of host console input; false when the FIFO is full (the caller keeps it).
  public func receive(_ byte: UInt8) -> Bool { model.receive(byte) }
}

/// The PL061 GPIO controller carrying the guest's power button (gpio-keys, KEY_POWER).
public final class PowerButtonGPIO: MMIODevice {
  public var model: PL061<EffectLine>
  /// The button is held down until the guest has read the line (gpio-keys reads it after its
  /// debounce delay); releasing it any earlier would lose the press.
  public private(set) var held = false

  public init(queue: EffectQueue, intid: UInt32) {
    model = PL061(irq: EffectLine(queue, intid: intid))
  }

  public func press() {
    model.pressPowerButton()
    held = true
  }

  public func read(at offset: UInt64, size: AccessSize, vcpu: Int) -> UInt64 {
    let value = WordRegisters.read(at: offset, size: size) { model.read(at: $0) }
    // A read of the data register whose address mask covers the button line: the guest saw it.
    let word = offset & ~3
    if held && word < UInt64(PL061Register.dir) && (word >> 2) >> UInt64(PL061<EffectLine>.powerButtonLine) & 1 == 1 {
      model.releasePowerButton()
      held = false
    }
    return value
  }

  public func write(_ value: UInt64, at offset: UInt64, size: AccessSize, vcpu: Int) {
    WordRegisters.write(value, at: offset) { model.write($0, at: $1) }
  }
}

/// The guest's real-time clock (PL031), counting the seconds its time source gives.
public final class RTCDevice: MMIODevice {
  public var model: PL031<EffectLine>
  /// The VM's time source, which outlives its devices (unowned: no reference counting on the
  /// trap path).
  unowned(unsafe) let time: any RealTimeSource

  public init(queue: EffectQueue, intid: UInt32, time: any RealTimeSource) {
    model = PL031(irq: EffectLine(queue, intid: intid))
    self.time = time
  }

  public func read(at offset: UInt64, size: AccessSize, vcpu: Int) -> UInt64 {
    let now = time.secondsSinceEpoch()
    return WordRegisters.read(at: offset, size: size) { model.read(at: $0, now: now) }
  }

  public func write(_ value: UInt64, at offset: UInt64, size: AccessSize, vcpu: Int) {
    let now = time.secondsSinceEpoch()
    WordRegisters.write(value, at: offset) { model.write($0, at: $1, now: now) }
  }
}

/// Register offsets of the Arm PrimeCell GPIO controller (PL061, DDI 0190B), as used by
/// Linux's `gpio-pl061` driver.
public enum PL061Register {
  public static let periphID0 = PrimeCellID.first
  public static let pcellID3 = PrimeCellID.last
  /// GPIODATA is a 256-word window: bits [9:2] of the offset mask which bits an access
  /// reads or writes, so single lines change without a read-modify-write.
  public static let data: UInt16 = 0x000
  public static let dataEnd: UInt16 = 0x3FC
  public static let dir: UInt16 = 0x400
  /// GPIOIS (named so as not to clash with the keyword).
  public static let isense: UInt16 = 0x404
  public static let ibe: UInt16 = 0x408
  public static let iev: UInt16 = 0x40C
  public static let ie: UInt16 = 0x410
  public static let ris: UInt16 = 0x414
  public static let mis: UInt16 = 0x418
  public static let ic: UInt16 = 0x41C
  public static let afsel: UInt16 = 0x420
  /// PeriphID0..3 then PCellID0..3, one byte per word, read by Linux's AMBA bus at probe.
}

/// Everything a PL061 needs to resume where it was. The line level is derived, never saved.
/// Every field is a full 8-bit register, so any value is valid.
public struct PL061State: Equatable, Sendable {
  /// Levels driven by the guest on lines configured as outputs.
  public var outputs: UInt8
  /// Levels driven by the host on the input lines (`setInput`).
  public var inputs: UInt8
  public var dir: UInt8
  public var interruptSense: UInt8
  public var bothEdges: UInt8
  public var interruptEvent: UInt8
  public var interruptEnable: UInt8
  public var afsel: UInt8
  /// Edge interrupts detected and not yet cleared through GPIOIC.
  public var latchedEdges: UInt8

  public init(
    outputs: UInt8 = 0, inputs: UInt8 = 0, dir: UInt8 = 0, interruptSense: UInt8 = 0, bothEdges: UInt8 = 0,
    interruptEvent: UInt8 = 0, interruptEnable: UInt8 = 0, afsel: UInt8 = 0, latchedEdges: UInt8 = 0
  ) {
    self.outputs = outputs; self.inputs = inputs; self.dir = dir; self.interruptSense = interruptSense
    self.bothEdges = bothEdges; self.interruptEvent = interruptEvent; self.interruptEnable = interruptEnable
    self.afsel = afsel; self.latchedEdges = latchedEdges
  }

  /// The PL061 TRM reset values: all lines inputs, every interrupt masked and edge-sensitive.
  public static var reset: PL061State { PL061State() }
}

/// An emulated PL061 GPIO controller with eight lines.
///
/// The host drives input lines with `setInput` (for Keel's guest, line 3 is the power button
/// the guest DT describes as a `gpio-keys` KEY_POWER, as on QEMU `virt`). Output lines go
/// nowhere; they only read back.
///
/// Interrupt detection works on each line's pin level (the guest's output value on an output,
/// the host's level on an input), as the hardware does: an edge-sensitive line (GPIOIS clear)
/// latches a RIS bit when its pin changes in the GPIOIEV direction, or either way with GPIOIBE;
/// the latch holds until the guest writes 1 to it in GPIOIC. A level-sensitive line's RIS bit
/// is simply "pin == GPIOIEV" and ignores GPIOIC. The SPI is high while RIS & GPIOIE is non-zero.
///
/// Invalid accesses (reserved or misaligned offsets, writes to read-only and reads of
/// write-only registers) read as zero, are ignored, and are counted in `invalidAccesses`.
public struct PL061<IRQ: IRQLine> {
  public static var lineCount: Int { 8 }
  /// The line Keel's guest DT wires to its `gpio-keys` power button (QEMU `virt` uses 3 too).
  public static var powerButtonLine: Int { 3 }

  public var irq: IRQ
  public private(set) var invalidAccesses: Int = 0

  private var regs: PL061State
  /// The level last driven onto `irq`, kept so that `set` is only called on a change.
  private var lineLevel: Bool

  /// PeriphID0..3 = 0x61 0x10 0x04 0x00 (part 0x061, Arm, r0), PCellID0..3 = 0x0D 0xF0 0x05
  /// 0xB1, packed little-endian one byte per ID register.
  private static var identification: PrimeCellID { PrimeCellID(peripheral: 0x0004_1061) }

  public init(irq: IRQ) {
    self.irq = irq
    self.regs = .reset
    self.lineLevel = false
  }

  /// Restores a saved state and drives the line to the level it implies (unconditionally,
  /// since the line's previous level is unknown).
  public init(state: PL061State, irq: IRQ) {
    self.irq = irq
    self.regs = state
    self.lineLevel = false
    lineLevel = interruptPending
    self.irq.set(lineLevel)
  }

  public var state: PL061State { regs }

  /// The level on each line's pin.
  public var pins: UInt8 { (regs.outputs & regs.dir) | (regs.inputs & ~regs.dir) }

  public var rawInterruptStatus: UInt8 {
    regs.latchedEdges | (regs.interruptSense & ~(pins ^ regs.interruptEvent))
  }

  public var interruptPending: Bool { (rawInterruptStatus & regs.interruptEnable) != 0 }

  /// Drives input `line` (0...7) from the host. Out-of-range lines are ignored, so a caller's
  /// bad number cannot stop the hypervisor.
  public mutating func setInput(_ line: Int, high: Bool) {
    guard line >= 0, line < Self.lineCount else { return }
    let bit = UInt8(1) << UInt8(line)
    changingPins { $0.inputs = high ? $0.inputs | bit : $0.inputs & ~bit }
  }

  /// Presses the power button: line 3 goes high and stays high until `releasePowerButton`.
  /// Linux's gpio-keys debounces (5 ms by default) and then samples the line, so a press
  /// released sooner than that is lost; QEMU holds its button for 100 ms, and so should the caller.
  public mutating func pressPowerButton() { setInput(Self.powerButtonLine, high: true) }

  public mutating func releasePowerButton() { setInput(Self.powerButtonLine, high: false) }

  /// Applies a change that may move pins, latching the edges it makes, then updates the line.
  private mutating func changingPins(_ change: (inout PL061State) -> Void) {
    let before = pins
    change(&regs)
    let changed = before ^ pins
    let edgeSensitive = changed & ~regs.interruptSense
    regs.latchedEdges |= edgeSensitive & (regs.bothEdges | ~(pins ^ regs.interruptEvent))
    updateLine()
  }

  private mutating func updateLine() {
    let level = interruptPending
    if level != lineLevel {
      lineLevel = level
      irq.set(level)
    }
  }

  public mutating func read(at offset: UInt16) -> UInt32 {
    switch offset {
    case PL061Register.data...PL061Register.dataEnd where offset & 3 == 0:
      return UInt32(pins & UInt8(truncatingIfNeeded: offset >> 2))
    case PL061Register.dir: return UInt32(regs.dir)
    case PL061Register.isense: return UInt32(regs.interruptSense)
    case PL061Register.ibe: return UInt32(regs.bothEdges)
    case PL061Register.iev: return UInt32(regs.interruptEvent)
    case PL061Register.ie: return UInt32(regs.interruptEnable)
    case PL061Register.ris: return UInt32(rawInterruptStatus)
    case PL061Register.mis: return UInt32(rawInterruptStatus & regs.interruptEnable)
    case PL061Register.afsel: return UInt32(regs.afsel)
    default:
      if let id = Self.identification.register(at: offset) { return id }
      invalidAccesses &+= 1
      return 0
    }
  }

  public mutating func write(_ value: UInt32, at offset: UInt16) {
    let byte = UInt8(truncatingIfNeeded: value)
    switch offset {
    case PL061Register.data...PL061Register.dataEnd where offset & 3 == 0:
      // Only output lines selected by the address mask take the value; inputs ignore writes.
      let mask = UInt8(truncatingIfNeeded: offset >> 2) & regs.dir
      changingPins { $0.outputs = ($0.outputs & ~mask) | (byte & mask) }
    case PL061Register.dir: changingPins { $0.dir = byte }
    // Changing how lines are sensed latches nothing (the pins did not move) but can change
    // which level interrupts are active.
    case PL061Register.isense: regs.interruptSense = byte
    case PL061Register.ibe: regs.bothEdges = byte
    case PL061Register.iev: regs.interruptEvent = byte
    case PL061Register.ie: regs.interruptEnable = byte
    case PL061Register.ic: regs.latchedEdges &= ~byte
    case PL061Register.afsel: regs.afsel = byte
    default:
      invalidAccesses &+= 1
    }
    updateLine()
  }
}

/// Register offsets of the Arm PrimeCell UART (PL011, DDI 0183G), as used by Linux's
/// `amba-pl011` driver and `earlycon=pl011`.
public enum PL011Register {
  public static let periphID0 = PrimeCellID.first
  public static let pcellID3 = PrimeCellID.last
  public static let dr: UInt16 = 0x000
  /// RSR on read, ECR on write.
  public static let rsrECR: UInt16 = 0x004
  public static let fr: UInt16 = 0x018
  public static let ilpr: UInt16 = 0x020
  public static let ibrd: UInt16 = 0x024
  public static let fbrd: UInt16 = 0x028
  public static let lcrH: UInt16 = 0x02C
  public static let cr: UInt16 = 0x030
  public static let ifls: UInt16 = 0x034
  public static let imsc: UInt16 = 0x038
  public static let ris: UInt16 = 0x03C
  public static let mis: UInt16 = 0x040
  public static let icr: UInt16 = 0x044
  public static let dmacr: UInt16 = 0x048
  /// PeriphID0..3 then PCellID0..3, one byte per word. Linux's AMBA bus reads them to
  /// match the driver, so they must hold the real part's values.
}

/// Bit fields of the PL011 registers that the model gives meaning to.
public enum PL011Bits {
  // FR
  public static let frBusy: UInt32 = 1 << 3
  public static let frRXFE: UInt32 = 1 << 4
  public static let frTXFF: UInt32 = 1 << 5
  public static let frRXFF: UInt32 = 1 << 6
  public static let frTXFE: UInt32 = 1 << 7
  // LCR_H
  public static let lcrHFEN: UInt8 = 1 << 4
  // CR
  public static let crUARTEN: UInt16 = 1 << 0
  public static let crLBE: UInt16 = 1 << 7
  public static let crTXE: UInt16 = 1 << 8
  public static let crRXE: UInt16 = 1 << 9
  // RIS / MIS / IMSC / ICR
  public static let intRX: UInt16 = 1 << 4
  public static let intTX: UInt16 = 1 << 5
  public static let intRT: UInt16 = 1 << 6
}

/// Everything a PL011 needs to resume where it was. The interrupt line level is not part
/// of it: it is always derived from these fields.
public struct PL011State: Equatable, Sendable {
  public var rxFIFO: [UInt8]
  public var ilpr: UInt8
  public var ibrd: UInt16
  /// 6 bits.
  public var fbrd: UInt8
  public var lcrH: UInt8
  public var cr: UInt16
  /// 6 bits.
  public var ifls: UInt8
  /// 11 bits.
  public var imsc: UInt16
  /// 3 bits.
  public var dmacr: UInt8

  public init(
    rxFIFO: [UInt8] = [], ilpr: UInt8 = 0, ibrd: UInt16 = 0, fbrd: UInt8 = 0, lcrH: UInt8 = 0,
    cr: UInt16 = 0x0300, ifls: UInt8 = 0x12, imsc: UInt16 = 0, dmacr: UInt8 = 0
  ) {
    self.rxFIFO = rxFIFO; self.ilpr = ilpr; self.ibrd = ibrd; self.fbrd = fbrd; self.lcrH = lcrH
    self.cr = cr; self.ifls = ifls; self.imsc = imsc; self.dmacr = dmacr
  }

  /// The PL011 TRM reset values (CR = TXE|RXE with the UART disabled, IFLS = half full).
  public static var reset: PL011State { PL011State() }
}

/// An emulated PL011 UART.
///
/// Transmit is write-through: a byte written to DR goes to `out` at once, so the TX FIFO is
/// always empty (FR.TXFE set, TXFF and BUSY never set) and the TX interrupt condition
/// ("at or below the trigger level") always holds, as in QEMU's model. Linux relies on that:
/// it enables TXIM only while it has data queued and masks it when done.
///
/// Receive is a 16-entry FIFO (1 entry when LCR_H.FEN is clear). RXRIS follows the IFLS
/// trigger level; the receive-timeout interrupt (RTRIS) is raised whenever the FIFO is not
/// empty, because the model has no notion of time.
///
/// Not emulated: DMA, IrDA, modem lines (CTS/DSR/DCD/RI read as 0), break/parity/framing/overrun
/// errors (host input is flow-controlled by `receive` returning false, so nothing overruns).
///
/// Invalid accesses (reserved or misaligned offsets, writes to read-only and reads of
/// write-only registers) read as zero, are ignored, and are counted in `invalidAccesses`.
/// Nothing the guest writes can trap or stop the model.
public struct PL011<IRQ: IRQLine, Out: ByteSink> {
  public static var fifoDepth: Int { 16 }

  public var irq: IRQ
  public var out: Out
  public private(set) var invalidAccesses: Int = 0

  private var regs: PL011State
  /// The level last driven onto `irq`, kept so that `set` is only called on a change.
  private var lineLevel: Bool

  /// PeriphID0..3 = 0x11 0x10 0x14 0x00 (part 0x011, Arm, revision r1p5), PCellID0..3 =
  /// 0x0D 0xF0 0x05 0xB1, packed little-endian one byte per ID register.
  private static var identification: PrimeCellID { PrimeCellID(peripheral: 0x0014_1011) }

  public init(irq: IRQ, out: Out) {
    self.irq = irq
    self.out = out
    self.regs = .reset
    self.lineLevel = false
  }

  /// Restores a saved state after checking it, and drives the line to the level the state
  /// implies (unconditionally, since the line's previous level is unknown).
  public init(state: PL011State, irq: IRQ, out: Out) throws(DeviceError) {
    let capacity = (state.lcrH & PL011Bits.lcrHFEN) != 0 ? Self.fifoDepth : 1
    guard state.rxFIFO.count <= capacity else {
      throw .fifoOverflow(count: state.rxFIFO.count, capacity: capacity)
    }
    guard state.fbrd <= 0x3F else { throw .reservedBitsSet(offset: PL011Register.fbrd, value: UInt32(state.fbrd)) }
    guard state.ifls <= 0x3F else { throw .reservedBitsSet(offset: PL011Register.ifls, value: UInt32(state.ifls)) }
    guard state.imsc <= 0x7FF else { throw .reservedBitsSet(offset: PL011Register.imsc, value: UInt32(state.imsc)) }
    guard state.dmacr <= 0x7 else { throw .reservedBitsSet(offset: PL011Register.dmacr, value: UInt32(state.dmacr)) }
    self.irq = irq
    self.out = out
    self.regs = state
    self.lineLevel = false
    lineLevel = interruptPending
    self.irq.set(lineLevel)
  }

  public var state: PL011State { regs }

  private var fifoCapacity: Int { (regs.lcrH & PL011Bits.lcrHFEN) != 0 ? Self.fifoDepth : 1 }

  /// RX FIFO fill level at which RXRIS asserts, from IFLS.RXIFLSEL (1/8 .. 7/8 of 16).
  /// With the FIFO disabled the single holding register asserts it when full.
  private var rxTriggerLevel: Int {
    guard (regs.lcrH & PL011Bits.lcrHFEN) != 0 else { return 1 }
    switch (regs.ifls >> 3) & 0x7 {
    case 0: return 2
    case 1: return 4
    case 2: return 8
    case 3: return 12
    default: return 14  // 7/8; 0b101..0b111 are reserved and treated like the highest level
    }
  }

  public var rawInterruptStatus: UInt16 {
    var ris = PL011Bits.intTX
    if regs.rxFIFO.count >= rxTriggerLevel { ris |= PL011Bits.intRX }
    if !regs.rxFIFO.isEmpty { ris |= PL011Bits.intRT }
    return ris
  }

  public var interruptPending: Bool { (rawInterruptStatus & regs.imsc) != 0 }

  private mutating func updateLine() {
    let level = interruptPending
    if level != lineLevel {
      lineLevel = level
      irq.set(level)
    }
  }

  private var flags: UInt32 {
    var fr = PL011Bits.frTXFE
    if regs.rxFIFO.isEmpty { fr |= PL011Bits.frRXFE }
    if regs.rxFIFO.count >= fifoCapacity { fr |= PL011Bits.frRXFF }
    return fr
  }

  public mutating func read(at offset: UInt16) -> UInt32 {
    switch offset {
    case PL011Register.dr:
      guard !regs.rxFIFO.isEmpty else { return 0 }
      let byte = regs.rxFIFO.removeFirst()
      updateLine()
      return UInt32(byte)
    case PL011Register.rsrECR: return 0
    case PL011Register.fr: return flags
    case PL011Register.ilpr: return UInt32(regs.ilpr)
    case PL011Register.ibrd: return UInt32(regs.ibrd)
    case PL011Register.fbrd: return UInt32(regs.fbrd)
    case PL011Register.lcrH: return UInt32(regs.lcrH)
    case PL011Register.cr: return UInt32(regs.cr)
    case PL011Register.ifls: return UInt32(regs.ifls)
    case PL011Register.imsc: return UInt32(regs.imsc)
    case PL011Register.ris: return UInt32(rawInterruptStatus)
    case PL011Register.mis: return UInt32(rawInterruptStatus & regs.imsc)
    case PL011Register.dmacr: return UInt32(regs.dmacr)
    default:
      if let id = Self.identification.register(at: offset) { return id }
      invalidAccesses &+= 1
      return 0
    }
  }

  public mutating func write(_ value: UInt32, at offset: UInt16) {
    switch offset {
    case PL011Register.dr:
      // Sent regardless of CR.UARTEN/TXE: earlycon writes DR with whatever CR firmware
      // left behind, and dropping console output helps nobody.
      let byte = UInt8(truncatingIfNeeded: value)
      if (regs.cr & PL011Bits.crLBE) != 0 {
        if regs.rxFIFO.count < fifoCapacity { regs.rxFIFO.append(byte) }
      } else {
        out.write(byte)
      }
    case PL011Register.rsrECR: break  // clears error bits, and none are ever set
    case PL011Register.ilpr: regs.ilpr = UInt8(truncatingIfNeeded: value)
    case PL011Register.ibrd: regs.ibrd = UInt16(truncatingIfNeeded: value)
    case PL011Register.fbrd: regs.fbrd = UInt8(truncatingIfNeeded: value) & 0x3F
    case PL011Register.lcrH:
      let new = UInt8(truncatingIfNeeded: value)
      // Toggling FEN flushes the RX FIFO (QEMU does the same); it also keeps the stored
      // bytes within the capacity of the new mode.
      if (new ^ regs.lcrH) & PL011Bits.lcrHFEN != 0 { regs.rxFIFO.removeAll() }
      regs.lcrH = new
    case PL011Register.cr: regs.cr = UInt16(truncatingIfNeeded: value)
    case PL011Register.ifls: regs.ifls = UInt8(truncatingIfNeeded: value) & 0x3F
    case PL011Register.imsc: regs.imsc = UInt16(truncatingIfNeeded: value) & 0x7FF
    case PL011Register.icr: break  // every implemented interrupt is a level that re-asserts at once
    case PL011Register.dmacr: regs.dmacr = UInt8(truncatingIfNeeded: value) & 0x7
    default:
      invalidAccesses &+= 1
    }
    updateLine()
  }

  /// Offers one byte from the host to the guest. Returns false, leaving the FIFO unchanged,
  /// when it is full; the caller keeps the byte and retries after the guest reads DR.
  public mutating func receive(_ byte: UInt8) -> Bool {
    guard regs.rxFIFO.count < fifoCapacity else { return false }
    regs.rxFIFO.append(byte)
    updateLine()
    return true
  }
}

import Testing
@testable import KeelDevices

/// Records the level and counts rising edges and total `set` calls, so tests can check the
/// model only drives the line on a change.
struct EdgeCountingLine: IRQLine {
  var level = false
  var risingEdges = 0
  var calls = 0
  mutating func set(_ level: Bool) {
    calls += 1
    if level && !self.level { risingEdges += 1 }
    self.level = level
  }
}

struct ArraySink: ByteSink {
  var bytes: [UInt8] = []
  mutating func write(_ byte: UInt8) { bytes.append(byte) }
}

typealias UART = PL011<EdgeCountingLine, ArraySink>
typealias R = PL011Register

func makeUART() -> UART { UART(irq: EdgeCountingLine(), out: ArraySink()) }

/// Drives the registers the way Linux's pl011_startup does: FIFO on, UART/TX/RX on.
func linuxStartup(_ uart: inout UART) {
  uart.write(0x7FF, at: R.icr)
  uart.write(0x70, at: R.lcrH)  // 8N1, FEN
  uart.write(0x301, at: R.cr)
}

@Test func identificationRegistersMatchTheRealPart() {
  var uart = makeUART()
  let ids = stride(from: R.periphID0, through: R.pcellID3, by: 4).map { uart.read(at: $0) }
  #expect(ids == [0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1])
  // AMBA reassembles the part number and the PrimeCell ID the way Linux does.
  let periph = ids[0..<4].enumerated().reduce(UInt32(0)) { $0 | ($1.element << (8 * UInt32($1.offset))) }
  let cell = ids[4..<8].enumerated().reduce(UInt32(0)) { $0 | ($1.element << (8 * UInt32($1.offset))) }
  #expect(periph & 0xFFF == 0x011)
  #expect(cell == 0xB105_F00D)
  #expect(uart.invalidAccesses == 0)
}

@Test func resetValues() {
  var uart = makeUART()
  do { let value = uart.read(at: R.cr); #expect(value == 0x300) }
  do { let value = uart.read(at: R.ifls); #expect(value == 0x12) }
  do { let value = uart.read(at: R.imsc); #expect(value == 0) }
  let fr = uart.read(at: R.fr)
  #expect(fr & PL011Bits.frTXFE != 0)
  #expect(fr & PL011Bits.frRXFE != 0)
  #expect(fr & (PL011Bits.frTXFF | PL011Bits.frBusy | PL011Bits.frRXFF) == 0)
  #expect(uart.state == .reset)
  #expect(uart.irq.calls == 0)
}

@Test func earlyconOutputIsNotLostBeforeTheUARTIsEnabled() {
  var uart = makeUART()
  uart.write(0, at: R.cr)  // even fully disabled
  for byte in Array("hi\n".utf8) {
    do { let value = uart.read(at: R.fr); #expect(value & PL011Bits.frTXFF == 0) }
    uart.write(UInt32(byte) | 0xFFFF_FF00, at: R.dr)  // upper bits are not data
  }
  #expect(uart.out.bytes == Array("hi\n".utf8))
}

@Test func transmitInterruptFollowsTXIMOnly() {
  var uart = makeUART()
  linuxStartup(&uart)
  do { let value = uart.read(at: R.ris); #expect(value & UInt32(PL011Bits.intTX) != 0) }
  #expect(!uart.interruptPending)
  uart.write(UInt32(PL011Bits.intTX), at: R.imsc)
  #expect(uart.interruptPending)
  #expect(uart.irq.level)
  do { let value = uart.read(at: R.mis); #expect(value == UInt32(PL011Bits.intTX)) }
  // Clearing it does not stick: the TX FIFO is still below the trigger level.
  uart.write(UInt32(PL011Bits.intTX), at: R.icr)
  #expect(uart.irq.level)
  uart.write(0x41, at: R.dr)
  uart.write(0, at: R.imsc)
  #expect(!uart.irq.level)
  #expect(uart.irq.risingEdges == 1)
  #expect(uart.irq.calls == 2)
}

@Test func receiveFIFOFillsToSixteenWithFIFOEnabled() {
  var uart = makeUART()
  linuxStartup(&uart)
  var accepted = 0
  for byte in UInt8(0)..<20 where uart.receive(byte) { accepted += 1 }
  #expect(accepted == UART.fifoDepth)
  do { let value = uart.read(at: R.fr); #expect(value & PL011Bits.frRXFF != 0) }
  var read: [UInt8] = []
  while uart.read(at: R.fr) & PL011Bits.frRXFE == 0 { read.append(UInt8(uart.read(at: R.dr))) }
  #expect(read == Array(0..<UInt8(UART.fifoDepth)))
  do { let value = uart.receive(99); #expect(value) }
}

@Test func receiveHoldsOneByteWithFIFODisabled() {
  var uart = makeUART()
  uart.write(0x60, at: R.lcrH)  // 8 bits, FEN clear
  do { let value = uart.receive(1); #expect(value) }
  do { let accepted = uart.receive(2); #expect(!accepted) }
  do { let value = uart.read(at: R.fr); #expect(value & PL011Bits.frRXFF != 0) }
  do { let value = uart.read(at: R.dr); #expect(value == 1) }
  do { let value = uart.read(at: R.fr); #expect(value & PL011Bits.frRXFE != 0) }
}

@Test func togglingFENFlushesTheReceiveFIFO() {
  var uart = makeUART()
  linuxStartup(&uart)
  for byte in UInt8(1)...5 { _ = uart.receive(byte) }
  uart.write(0x60, at: R.lcrH)
  #expect(uart.state.rxFIFO.isEmpty)
}

@Test func receiveInterruptsFollowTriggerLevelAndTimeout() {
  var uart = makeUART()
  linuxStartup(&uart)
  uart.write(UInt32(PL011Bits.intRX), at: R.imsc)
  // IFLS reset = RX 1/2 full = 8 bytes.
  for byte in UInt8(0)..<7 { _ = uart.receive(byte) }
  #expect(!uart.irq.level)
  do { let value = uart.read(at: R.ris); #expect(value & UInt32(PL011Bits.intRT) != 0) }
  _ = uart.receive(7)
  #expect(uart.irq.level)
  _ = uart.read(at: R.dr)
  #expect(!uart.irq.level)

  uart.write(UInt32(PL011Bits.intRX | PL011Bits.intRT), at: R.imsc)
  #expect(uart.irq.level)  // 7 bytes still waiting: timeout interrupt
  while uart.read(at: R.fr) & PL011Bits.frRXFE == 0 { _ = uart.read(at: R.dr) }
  #expect(!uart.irq.level)
  #expect(uart.irq.risingEdges == 2)
  #expect(uart.irq.calls == 4)
}

@Test func rxTriggerLevelsFromIFLS() {
  for (select, level) in [(0, 2), (1, 4), (2, 8), (3, 12), (4, 14)] {
    var uart = makeUART()
    linuxStartup(&uart)
    uart.write(UInt32(select << 3), at: R.ifls)
    uart.write(UInt32(PL011Bits.intRX), at: R.imsc)
    var count = 0
    while !uart.irq.level && uart.receive(UInt8(count)) { count += 1 }
    #expect(count == level, "RXIFLSEL \(select)")
  }
}

@Test func loopbackRoutesTransmitToReceive() {
  var uart = makeUART()
  linuxStartup(&uart)
  uart.write(0x381, at: R.cr)  // UARTEN | LBE | TXE | RXE
  uart.write(0x5A, at: R.dr)
  #expect(uart.out.bytes.isEmpty)
  do { let value = uart.read(at: R.dr); #expect(value == 0x5A) }
}

@Test func invalidAccessesAreCountedAndHarmless() {
  var uart = makeUART()
  linuxStartup(&uart)
  let before = uart.state
  let hostile: [UInt16] = [0x008, 0x00C, 0x010, 0x014, 0x01C, 0x04C, 0x100, 0xFDC, 0x001, 0xFE1, 0xFFF, 0x1000, 0xFFFF]
  for offset in hostile {
    do { let value = uart.read(at: offset); #expect(value == 0) }
    uart.write(0xFFFF_FFFF, at: offset)
  }
  // Read-only registers are not writable, ICR is not readable.
  for offset in [R.fr, R.ris, R.mis, R.periphID0, R.pcellID3] { uart.write(0xFFFF_FFFF, at: offset) }
  _ = uart.read(at: R.icr)
  #expect(uart.invalidAccesses == hostile.count * 2 + 6)
  #expect(uart.state == before)
  do { let value = uart.read(at: R.pcellID3); #expect(value == 0xB1) }
  #expect(uart.out.bytes.isEmpty)
}

@Test func registerWidthsAreMasked() {
  var uart = makeUART()
  uart.write(0xFFFF_FFFF, at: R.fbrd)
  uart.write(0xFFFF_FFFF, at: R.ifls)
  uart.write(0xFFFF_FFFF, at: R.imsc)
  uart.write(0xFFFF_FFFF, at: R.dmacr)
  uart.write(0xFFFF_FFFF, at: R.ibrd)
  do { let value = uart.read(at: R.fbrd); #expect(value == 0x3F) }
  do { let value = uart.read(at: R.ifls); #expect(value == 0x3F) }
  do { let value = uart.read(at: R.imsc); #expect(value == 0x7FF) }
  do { let value = uart.read(at: R.dmacr); #expect(value == 0x7) }
  do { let value = uart.read(at: R.ibrd); #expect(value == 0xFFFF) }
  // The saved state of a fully scribbled UART must restore.
  #expect(throws: Never.self) { try UART(state: uart.state, irq: EdgeCountingLine(), out: ArraySink()) }
}

@Test func stateRoundTripsAndRederivesTheLine() throws {
  var uart = makeUART()
  linuxStartup(&uart)
  uart.write(UInt32(PL011Bits.intRT), at: R.imsc)
  _ = uart.receive(0x33)
  #expect(uart.irq.level)
  var restored = try UART(state: uart.state, irq: EdgeCountingLine(), out: ArraySink())
  #expect(restored.state == uart.state)
  #expect(restored.irq.level)
  do { let value = restored.read(at: R.dr); #expect(value == 0x33) }
  #expect(!restored.irq.level)
}

@Test func restoreRejectsInconsistentState() {
  var state = PL011State.reset
  state.rxFIFO = [1, 2]  // FEN clear: capacity 1
  #expect(throws: DeviceError.fifoOverflow(count: 2, capacity: 1)) {
    try UART(state: state, irq: EdgeCountingLine(), out: ArraySink())
  }
  state.lcrH = PL011Bits.lcrHFEN
  state.rxFIFO = Array(repeating: 0, count: 17)
  #expect(throws: DeviceError.fifoOverflow(count: 17, capacity: 16)) {
    try UART(state: state, irq: EdgeCountingLine(), out: ArraySink())
  }
  state.rxFIFO = []
  state.imsc = 0x800
  #expect(throws: DeviceError.reservedBitsSet(offset: R.imsc, value: 0x800)) {
    try UART(state: state, irq: EdgeCountingLine(), out: ArraySink())
  }
  #expect(!DeviceError.fifoOverflow(count: 2, capacity: 1).description.isEmpty)
}

@Test func linuxConsoleWriteSequence() {
  // pl011_console_write: save CR, enable UART+TX, poll FR/TXFF + write DR per byte, wait !BUSY, restore CR.
  var uart = makeUART()
  let savedCR = uart.read(at: R.cr)
  uart.write(0x101, at: R.cr)
  for byte in Array("Booting Linux\n".utf8) {
    while uart.read(at: R.fr) & PL011Bits.frTXFF != 0 {}
    uart.write(UInt32(byte), at: R.dr)
  }
  while uart.read(at: R.fr) & PL011Bits.frBusy != 0 {}
  uart.write(savedCR, at: R.cr)
  #expect(uart.out.bytes == Array("Booting Linux\n".utf8))
  #expect(uart.irq.calls == 0)
}

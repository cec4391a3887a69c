import Testing
@testable import KeelDevices

typealias GPIO = PL061<EdgeCountingLine>
typealias G = PL061Register

func makeGPIO() -> GPIO { GPIO(irq: EdgeCountingLine()) }

/// The GPIODATA offset whose address mask selects exactly `bits`.
func dataOffset(_ bits: UInt8) -> UInt16 { UInt16(bits) << 2 }

/// What Linux's pl061 driver does for IRQ_TYPE_EDGE_BOTH on `line` (gpio-keys asks for it).
func enableBothEdges(_ gpio: inout GPIO, line: Int) {
  let bit = UInt32(1) << UInt32(line)
  gpio.write(gpio.read(at: G.isense) & ~bit, at: G.isense)
  gpio.write(gpio.read(at: G.ibe) | bit, at: G.ibe)
  gpio.write(gpio.read(at: G.ie) | bit, at: G.ie)
}

@Test func pl061IdentificationRegistersMatchTheRealPart() {
  var gpio = makeGPIO()
  let ids = stride(from: G.periphID0, through: G.pcellID3, by: 4).map { gpio.read(at: $0) }
  #expect(ids == [0x61, 0x10, 0x04, 0x00, 0x0D, 0xF0, 0x05, 0xB1])
  let periph = ids[0..<4].enumerated().reduce(UInt32(0)) { $0 | ($1.element << (8 * UInt32($1.offset))) }
  let cell = ids[4..<8].enumerated().reduce(UInt32(0)) { $0 | ($1.element << (8 * UInt32($1.offset))) }
  #expect(periph == 0x0004_1061)
  #expect(cell == 0xB105_F00D)
  #expect(gpio.invalidAccesses == 0)
}

@Test func pl061ResetState() {
  var gpio = makeGPIO()
  for offset in [G.dir, G.isense, G.ibe, G.iev, G.ie, G.ris, G.mis, G.afsel, dataOffset(0xFF)] {
    #expect(gpio.read(at: offset) == 0, "offset 0x\(String(offset, radix: 16))")
  }
  #expect(gpio.state == .reset)
  #expect(gpio.irq.calls == 0)
  #expect(gpio.invalidAccesses == 0)
}

@Test func dataReadsAreMaskedByTheAddress() {
  var gpio = makeGPIO()
  gpio.setInput(0, high: true)
  gpio.setInput(3, high: true)
  gpio.setInput(7, high: true)
  #expect(gpio.read(at: dataOffset(0xFF)) == 0x89)
  #expect(gpio.read(at: dataOffset(0x08)) == 0x08)
  #expect(gpio.read(at: dataOffset(0x76)) == 0)
  #expect(gpio.read(at: dataOffset(0x81)) == 0x81)
  #expect(gpio.read(at: G.data) == 0)  // offset 0 masks everything out
}

@Test func dataWritesReachOnlyMaskedOutputs() {
  var gpio = makeGPIO()
  gpio.setInput(1, high: true)
  gpio.write(0x0F, at: G.dir)  // lines 0-3 outputs
  gpio.write(0xFF, at: dataOffset(0x05))  // lines 0 and 2 only
  #expect(gpio.read(at: dataOffset(0xFF)) == 0x05)
  gpio.write(0x00, at: dataOffset(0x01))
  #expect(gpio.read(at: dataOffset(0xFF)) == 0x04)
  // Input lines ignore writes and keep reading the host's level.
  gpio.write(0xFF, at: dataOffset(0xF0))
  #expect(gpio.read(at: dataOffset(0xF0)) == 0)
  gpio.setInput(5, high: true)
  #expect(gpio.read(at: dataOffset(0xF0)) == 0x20)
  // Line 1 is an output now: its pin reads the output value (0), not the input level.
  #expect(gpio.read(at: dataOffset(0x02)) == 0)
  gpio.write(0x00, at: G.dir)
  #expect(gpio.read(at: dataOffset(0x02)) == 0x02)
  #expect(gpio.invalidAccesses == 0)
}

@Test func risingEdgeLatchesUntilCleared() {
  var gpio = makeGPIO()
  gpio.write(0x08, at: G.iev)  // rising
  gpio.write(0x08, at: G.ie)
  gpio.setInput(3, high: true)
  #expect(gpio.read(at: G.ris) == 0x08)
  #expect(gpio.read(at: G.mis) == 0x08)
  #expect(gpio.irq.level && gpio.irq.risingEdges == 1)
  // Falling does not clear it or re-trigger it; only GPIOIC does.
  gpio.setInput(3, high: false)
  #expect(gpio.irq.level && gpio.irq.calls == 1)
  gpio.write(0x08, at: G.ic)
  #expect(!gpio.irq.level)
  #expect(gpio.read(at: G.ris) == 0)
  // A falling edge with IEV = rising latches nothing.
  gpio.setInput(3, high: true)
  gpio.write(0x08, at: G.ic)
  gpio.setInput(3, high: false)
  #expect(gpio.read(at: G.ris) == 0)
  #expect(gpio.irq.risingEdges == 2)
}

@Test func fallingEdge() {
  var gpio = makeGPIO()
  gpio.write(0x01, at: G.ie)  // IEV 0: falling
  gpio.setInput(0, high: true)
  #expect(gpio.read(at: G.ris) == 0)
  #expect(!gpio.irq.level)
  gpio.setInput(0, high: false)
  #expect(gpio.read(at: G.ris) == 0x01)
  #expect(gpio.irq.level)
}

@Test func bothEdgesAsGPIOKeysUsesThem() {
  var gpio = makeGPIO()
  enableBothEdges(&gpio, line: GPIO.powerButtonLine)
  #expect(!gpio.irq.level)
  gpio.pressPowerButton()
  #expect(gpio.irq.level)
  #expect(gpio.read(at: G.mis) == 0x08)
  // The driver's handler: ack, then gpio-keys samples the line.
  gpio.write(gpio.read(at: G.mis), at: G.ic)
  #expect(!gpio.irq.level)
  #expect(gpio.read(at: dataOffset(0x08)) == 0x08)
  gpio.releasePowerButton()
  #expect(gpio.irq.level && gpio.irq.risingEdges == 2)
  gpio.write(0x08, at: G.ic)
  #expect(!gpio.irq.level)
  #expect(gpio.read(at: dataOffset(0x08)) == 0)
}

@Test func setInputToTheSameLevelIsNoEdge() {
  var gpio = makeGPIO()
  enableBothEdges(&gpio, line: 2)
  gpio.setInput(2, high: false)
  #expect(gpio.read(at: G.ris) == 0)
  gpio.setInput(2, high: true)
  gpio.write(0x04, at: G.ic)
  gpio.setInput(2, high: true)
  #expect(gpio.read(at: G.ris) == 0)
}

@Test func maskedEdgeStaysRawAndFiresWhenEnabled() {
  var gpio = makeGPIO()
  gpio.write(0xFF, at: G.ibe)
  gpio.setInput(6, high: true)
  #expect(gpio.read(at: G.ris) == 0x40)
  #expect(gpio.read(at: G.mis) == 0)
  #expect(gpio.irq.calls == 0)
  gpio.write(0x40, at: G.ie)
  #expect(gpio.irq.level)
  gpio.write(0x00, at: G.ie)
  #expect(!gpio.irq.level)
  #expect(gpio.read(at: G.ris) == 0x40)
}

@Test func levelInterruptFollowsThePinAndIgnoresClear() {
  var gpio = makeGPIO()
  gpio.write(0x10, at: G.isense)
  gpio.write(0x10, at: G.iev)  // high
  gpio.write(0x10, at: G.ie)
  #expect(!gpio.irq.level)
  gpio.setInput(4, high: true)
  #expect(gpio.irq.level)
  gpio.write(0x10, at: G.ic)
  #expect(gpio.irq.level)
  #expect(gpio.read(at: G.ris) == 0x10)
  gpio.setInput(4, high: false)
  #expect(!gpio.irq.level)
  // Low-level sensing: active right away while the pin is low.
  gpio.write(0x00, at: G.iev)
  #expect(gpio.irq.level)
  #expect(gpio.irq.risingEdges == 2)
}

@Test func outputsDriveInterruptDetectionToo() {
  var gpio = makeGPIO()
  gpio.write(0x01, at: G.dir)
  gpio.write(0x01, at: G.iev)
  gpio.write(0x01, at: G.ie)
  gpio.write(0x01, at: dataOffset(0x01))
  #expect(gpio.irq.level)
  #expect(gpio.read(at: G.ris) == 0x01)
}

@Test func lineIsOnlyDrivenOnChange() {
  var gpio = makeGPIO()
  gpio.write(0xFF, at: G.ibe)
  gpio.write(0xFF, at: G.ie)
  for line in 0..<8 { gpio.setInput(line, high: true) }
  #expect(gpio.irq.calls == 1)
  gpio.write(0x0F, at: G.ic)
  #expect(gpio.irq.calls == 1)
  gpio.write(0xF0, at: G.ic)
  #expect(gpio.irq.calls == 2 && !gpio.irq.level)
}

@Test func controlRegistersReadBack() {
  var gpio = makeGPIO()
  let registers = [G.dir, G.isense, G.ibe, G.iev, G.ie, G.afsel]
  for (i, offset) in registers.enumerated() { gpio.write(0xFFFF_FF00 | UInt32(0x11 * (i + 1)), at: offset) }
  for (i, offset) in registers.enumerated() { #expect(gpio.read(at: offset) == UInt32(0x11 * (i + 1))) }
  #expect(gpio.state.afsel == 0x66)
}

@Test func hostileAccessesAreHarmless() {
  var gpio = makeGPIO()
  let before = gpio.state
  // Misaligned, reserved, read-only and out-of-window offsets.
  for offset: UInt16 in [0x001, 0x3FE, 0x424, 0x800, 0xFDC, 0xFE1, 0xFFE, 0x1000, 0xFFFF] {
    gpio.write(0xFFFF_FFFF, at: offset)
    #expect(gpio.read(at: offset) == 0)
  }
  gpio.write(0xFF, at: G.ris)
  gpio.write(0xFF, at: G.mis)
  gpio.write(0xFF, at: G.periphID0)
  #expect(gpio.read(at: G.ic) == 0)
  #expect(gpio.state == before)
  #expect(gpio.invalidAccesses == 22)
  #expect(gpio.read(at: G.periphID0) == 0x61)
  gpio.setInput(-1, high: true)
  gpio.setInput(8, high: true)
  gpio.setInput(Int.max, high: true)
  #expect(gpio.state == before)
}

@Test func pl061StateRoundTripsAndRederivesTheLine() {
  var gpio = makeGPIO()
  enableBothEdges(&gpio, line: 3)
  gpio.write(0x80, at: G.dir)
  gpio.write(0x80, at: dataOffset(0x80))
  gpio.pressPowerButton()
  let saved = gpio.state
  #expect(saved.latchedEdges == 0x08 && saved.inputs == 0x08 && saved.outputs == 0x80)
  var restored = GPIO(state: saved, irq: EdgeCountingLine())
  #expect(restored.irq.level && restored.irq.calls == 1)
  #expect(restored.state == saved)
  #expect(restored.read(at: dataOffset(0xFF)) == 0x88)
  let quiet = GPIO(state: .reset, irq: EdgeCountingLine())
  #expect(!quiet.irq.level && quiet.irq.calls == 1)
}

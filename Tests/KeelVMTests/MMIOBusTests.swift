import Testing
import KeelArch
import KeelDevices
import KeelVGIC
import KeelVM

/// A device that records every access and answers loads with a pattern derived from the offset.
final class RecordingDevice: MMIODevice {
  struct Access: Equatable { var isWrite: Bool; var offset: UInt64; var size: AccessSize; var value: UInt64; var vcpu: Int }
  var log: [Access] = []
  var answer: UInt64 = 0x8877_6655_4433_2211

  func read(at offset: UInt64, size: AccessSize, vcpu: Int) -> UInt64 {
    log.append(Access(isWrite: false, offset: offset, size: size, value: 0, vcpu: vcpu))
    return answer & size.mask
  }
  func write(_ value: UInt64, at offset: UInt64, size: AccessSize, vcpu: Int) {
    log.append(Access(isWrite: true, offset: offset, size: size, value: value, vcpu: vcpu))
  }
}

/// A data-abort syndrome for a load or store of `size` through register `srt`.
func dataAbort(_ size: AccessSize, srt: Int = 1, write: Bool = false, signExtend: Bool = false, sixtyFour: Bool = true) -> DataAbortISS {
  var raw: UInt32 = 1 << 24 | UInt32(size.rawValue) << 22 | UInt32(srt) << 16
  if signExtend { raw |= 1 << 21 }
  if sixtyFour { raw |= 1 << 15 }
  if write { raw |= 1 << 6 }
  return DataAbortISS(raw)
}

@Suite struct MMIOBusTests {
  func bus() throws -> (MMIOBus, RecordingDevice, RecordingDevice) {
    var bus = MMIOBus()
    let a = RecordingDevice(), b = RecordingDevice()
    try bus.attach(a, base: 0x1000, size: 0x1000, category: .uart)
    try bus.attach(b, base: 0x3000, size: 0x100, category: .gpio)
    return (bus, a, b)
  }

  func access(_ address: UInt64, _ iss: DataAbortISS) -> MMIOAccess { MMIOAccess(iss, address: IPA(address))! }

  @Test func overlappingRangesAreRefused() throws {
    var (bus, _, _) = try self.bus()
    let c = RecordingDevice()
    #expect(throws: BusError.overlap(base: 0x1800, size: 0x1000, with: 0x1000)) { try bus.attach(c, base: 0x1800, size: 0x1000, category: .gic) }
    #expect(throws: BusError.overlap(base: 0x0800, size: 0x900, with: 0x1000)) { try bus.attach(c, base: 0x0800, size: 0x900, category: .gic) }
    #expect(throws: BusError.overlap(base: 0x2FFF, size: 2, with: 0x3000)) { try bus.attach(c, base: 0x2FFF, size: 2, category: .gic) }
    #expect(throws: BusError.emptyRange(base: 0x5000)) { try bus.attach(c, base: 0x5000, size: 0, category: .gic) }
    #expect(throws: BusError.emptyRange(base: ~0 - 4)) { try bus.attach(c, base: ~0 - 4, size: 0x10, category: .gic) }
    // Adjacent ranges are fine.
    try bus.attach(c, base: 0x2000, size: 0x1000, category: .gic)
    #expect(bus.count == 3)
  }

  @Test func dispatchesByRangeWithTheOffsetInside() throws {
    let (bus, a, b) = try self.bus()
    #expect(bus.dispatch(access(0x1018, dataAbort(.word)), storeValue: 0, vcpu: 3) == .completed(value: 0x4433_2211, category: .uart))
    #expect(bus.dispatch(access(0x30FC, dataAbort(.word, write: true)), storeValue: 7, vcpu: 0) == .completed(value: 0, category: .gpio))
    #expect(a.log == [.init(isWrite: false, offset: 0x18, size: .word, value: 0, vcpu: 3)])
    #expect(b.log == [.init(isWrite: true, offset: 0xFC, size: .word, value: 7, vcpu: 0)])
  }

  @Test func everyAccessSizeReachesTheDevice() throws {
    let (bus, a, _) = try self.bus()
    for size in [AccessSize.byte, .halfword, .word, .doubleword] {
      let result = bus.dispatch(access(0x1000, dataAbort(size)), storeValue: 0, vcpu: 0)
      #expect(result == .completed(value: 0x8877_6655_4433_2211 & size.mask, category: .uart))
      _ = bus.dispatch(access(0x1008, dataAbort(size, write: true)), storeValue: 0xAB & size.mask, vcpu: 0)
    }
    #expect(a.log.map(\.size) == [.byte, .byte, .halfword, .halfword, .word, .word, .doubleword, .doubleword])
  }

  @Test func loadsAreSignExtendedIntoTheRegister() throws {
    let (bus, a, _) = try self.bus()
    a.answer = 0x80
    let ldrsb = access(0x1000, dataAbort(.byte, signExtend: true, sixtyFour: true))
    guard case .completed(let byte, _) = bus.dispatch(ldrsb, storeValue: 0, vcpu: 0) else { Issue.record("unmapped"); return }
    #expect(ldrsb.registerValue(afterLoading: byte) == 0xFFFF_FFFF_FFFF_FF80)
    a.answer = 0x8000
    let ldrshW = access(0x1000, dataAbort(.halfword, signExtend: true, sixtyFour: false))
    guard case .completed(let half, _) = bus.dispatch(ldrshW, storeValue: 0, vcpu: 0) else { Issue.record("unmapped"); return }
    #expect(ldrshW.registerValue(afterLoading: half) == 0xFFFF_8000)
    let ldrh = access(0x1000, dataAbort(.halfword))
    #expect(ldrh.registerValue(afterLoading: half) == 0x8000)
  }

  @Test func unalignedAndStraddlingAccesses() throws {
    let (bus, a, _) = try self.bus()
    // Unaligned inside the range: the device sees the offset as it is and decides.
    #expect(bus.dispatch(access(0x1003, dataAbort(.word)), storeValue: 0, vcpu: 0) == .completed(value: 0x4433_2211, category: .uart))
    #expect(a.log.last?.offset == 3)
    // Running past the end of the device's range: nobody owns every byte.
    #expect(bus.dispatch(access(0x1FFC, dataAbort(.doubleword)), storeValue: 0, vcpu: 0) == .unmapped)
    #expect(bus.dispatch(access(0x1FFF, dataAbort(.halfword, write: true)), storeValue: 1, vcpu: 0) == .unmapped)
    #expect(a.log.count == 1)
  }

  @Test func unknownAddressesAreUnmapped() throws {
    let (bus, a, b) = try self.bus()
    for address: UInt64 in [0, 0xFFF, 0x2000, 0x3100, ~0] {
      #expect(bus.dispatch(access(address, dataAbort(.byte)), storeValue: 0, vcpu: 0) == .unmapped)
      #expect(bus.category(at: address) == nil)
    }
    #expect(a.log.isEmpty && b.log.isEmpty)
  }
}

@Suite struct EffectTests {
  @Test func listKeepsOrderBeyondItsInlineCapacity() {
    var list = EffectList()
    for i in 0..<20 { list.append(.setLevel(intid: UInt32(32 + i), high: i % 2 == 0)) }
    #expect(list.count == 20)
    var seen: [DeviceEffect] = []
    list.drain { seen.append($0) }
    let expected: [DeviceEffect] = (0..<20).map { (i: Int) -> DeviceEffect in .setLevel(intid: UInt32(32 + i), high: i % 2 == 0) }
    #expect(seen == expected)
    #expect(list.isEmpty)
    var again = 0
    list.drain { _ in again += 1 }
    #expect(again == 0)
  }

  struct NullConsole: ByteSink { mutating func write(_ byte: UInt8) {} }

  func devices() throws -> VMDevices<NullConsole> {
    try VMDevices(board: GuestBoard(cpuCount: 2, memory: .init(base: 0x4000_0000, size: 0x1000_0000)), console: NullConsole(), realTime: BoardBusTests.FixedTime())
  }

  /// Enables SPI `intid` in the vGIC, routed to vCPU 0 (through the distributor on the bus).
  func enable(_ d: VMDevices<NullConsole>, _ intid: UInt32) {
    let gicd = MMIOAccess(dataAbort(.word, write: true), address: IPA(0x0800_0000 + 0x100 + UInt64(intid / 32) * 4))!
    _ = d.bus.dispatch(MMIOAccess(dataAbort(.word, write: true), address: IPA(0x0800_0000))!, storeValue: 0x12, vcpu: 0)  // ARE, Grp1
    _ = d.bus.dispatch(gicd, storeValue: 1 << UInt64(intid % 32), vcpu: 0)
    _ = d.bus.dispatch(MMIOAccess(dataAbort(.word, write: true), address: IPA(0x0800_0000 + 0x80 + UInt64(intid / 32) * 4))!, storeValue: 1 << UInt64(intid % 32), vcpu: 0)
    _ = d.settle()
  }

  @Test func effectsAreAppliedOnceAndInOrder() throws {
    let d = try devices()
    enable(d, 40)
    // Raised then lowered within one access: the line ends low, nothing to deliver.
    d.effects.record(.setLevel(intid: 40, high: true))
    d.effects.record(.setLevel(intid: 40, high: false))
    var shell = d.settle()
    #expect(!d.interrupts.vgic.hasDeliverable(vcpu: 0))
    // Lowered then raised: it ends high and vCPU 0 is kicked.
    d.effects.record(.setLevel(intid: 40, high: false))
    d.effects.record(.setLevel(intid: 40, high: true))
    d.effects.record(.deactivateHardware(intids: 1 << 27))
    d.effects.record(.consoleDrained)
    shell = d.settle()
    #expect(d.interrupts.vgic.hasDeliverable(vcpu: 0))
    #expect(shell.kick == 1 && shell.deactivateHardware == 1 << 27 && shell.consoleDrained)
    // Applied once: a second settle finds nothing.
    #expect(d.settle().isEmpty)
  }

  @Test func uartInterruptReachesTheVGICThroughItsLine() throws {
    let d = try devices()
    enable(d, d.board.uartINTID)
    // IMSC: receive interrupt; then a byte arrives.
    _ = d.bus.dispatch(MMIOAccess(dataAbort(.word, write: true), address: IPA(0x0900_0038))!, storeValue: 1 << 4, vcpu: 0)
    #expect(d.uart.receive(0x41))
    let shell = d.settle()
    #expect(shell.kick == 1 && d.interrupts.vgic.hasDeliverable(vcpu: 0))
    // Reading DR drains the FIFO, lowers the line and tells the shell console input may follow.
    let dr = d.bus.dispatch(MMIOAccess(dataAbort(.byte), address: IPA(0x0900_0000))!, storeValue: 0, vcpu: 0)
    #expect(dr == .completed(value: 0x41, category: .uart))
    #expect(d.settle().consoleDrained)
    #expect(!d.interrupts.vgic.hasDeliverable(vcpu: 0))
  }

  @Test func powerButtonIsHeldUntilTheGuestReadsIt() throws {
    let d = try devices()
    let button = try #require(d.powerButton)
    button.press()
    #expect(button.held)
    // A read of the data register masked to another line leaves it held.
    _ = d.bus.dispatch(MMIOAccess(dataAbort(.word), address: IPA(0x0903_0000 + (1 << 2)))!, storeValue: 0, vcpu: 0)
    #expect(button.held)
    let line = d.bus.dispatch(MMIOAccess(dataAbort(.word), address: IPA(0x0903_0000 + (1 << 5)))!, storeValue: 0, vcpu: 0)
    #expect(line == .completed(value: 1 << 3, category: .gpio))
    #expect(!button.held)
  }
}

@Suite struct HostInterruptTableTests {
  enum Handler: Equatable { case timer, uart }

  @Test func registeredHandlersAreFoundByINTID() throws {
    var table = HostInterruptTable<Handler>()
    try table.register(27, .timer)
    try table.register(33, .uart)
    #expect(table[27] == .timer && table[33] == .uart)
    #expect(table[26] == nil && table[1019] == nil)
    // Special INTIDs (spurious 1023) have no handler.
    #expect(table[1023] == nil && table[.max] == nil)
  }

  @Test func duplicateAndOutOfRangeRegistrationsAreRefused() throws {
    var table = HostInterruptTable<Handler>()
    try table.register(0, .timer)
    #expect(throws: HostInterruptTable<Handler>.RegistrationError.alreadyRegistered(0)) { try table.register(0, .uart) }
    #expect(throws: HostInterruptTable<Handler>.RegistrationError.outOfRange(1020)) { try table.register(1020, .uart) }
    #expect(table[0] == .timer)
  }
}

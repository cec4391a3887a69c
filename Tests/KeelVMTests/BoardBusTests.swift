import Testing
import KeelArch
import KeelDevices
import KeelFDT
import KeelVM

/// The bus a board generates routes each address to the device the board put there (the
/// routing the hypervisor's data-abort path relies on), with the offset into its range.
@Suite struct BoardBusTests {
  struct NullConsole: ByteSink { mutating func write(_ byte: UInt8) {} }
  final class FixedTime: RealTimeSource { func secondsSinceEpoch() -> UInt64 { 1_780_000_000 } }
  let time = FixedTime()
  static let ram = MemoryRegion(base: 0x4000_0000, size: 0x1000_0000)

  func devices(_ version: GICVersion = .v3, cpus: Int = 2, _ edit: (inout GuestBoard) -> Void = { _ in }) throws -> VMDevices<NullConsole> {
    var board = GuestBoard(cpuCount: cpus, memory: Self.ram, gicVersion: version)
    edit(&board)
    return try VMDevices(board: board, console: NullConsole(), realTime: time)
  }

  func category(_ d: VMDevices<NullConsole>, _ address: UInt64) -> DeviceCategory? { d.bus.category(at: address) }

  @Test func routesDistributor() throws {
    let v3 = try devices(.v3)
    #expect(category(v3, 0x0800_0000) == .gic)
    #expect(category(v3, 0x0800_FFFC) == .gic)
    let v2 = try devices(.v2)
    #expect(category(v2, 0x0800_0FFC) == .gic)
    // GICv2's distributor is a 4 KiB frame, as on QEMU's GIC: the rest of the window is a hole.
    #expect(category(v2, 0x0800_6108) == nil)
  }

  @Test func routesRedistributorsOnlyForV3() throws {
    #expect(category(try devices(.v3, cpus: 2), 0x080A_0000) == .gic)
    #expect(category(try devices(.v3, cpus: 2), 0x080A_0000 + 0x3_0008) == .gic)
    #expect(category(try devices(.v3, cpus: 2), 0x080A_0000 + 0x4_0000) == nil)   // past the last frame
    #expect(category(try devices(.v3, cpus: 3), 0x080A_0000 + 0x4_0000) == .gic)
    #expect(category(try devices(.v2, cpus: 2), 0x080A_0000) == nil)
  }

  @Test func routesUARTAndGPIO() throws {
    let d = try devices()
    #expect(category(d, 0x0900_0018) == .uart)
    #expect(category(d, 0x0900_1000) == nil)
    #expect(category(d, 0x08FF_FFFF) == nil)
    #expect(category(d, 0x0903_0000) == .gpio)
    #expect(category(d, 0x0903_0FFC) == .gpio)
    #expect(category(d, 0x0903_1000) == nil)
    #expect(category(d, 0x0902_FFFF) == nil)
    #expect(d.board.gpioINTID == 39 && d.board.uartINTID == 33)
  }

  /// The RTC sits where QEMU virt has it, reads its time source, and its line is SPI 2.
  @Test func routesTheRTC() throws {
    let d = try devices()
    #expect(category(d, 0x0901_0000) == .rtc)
    #expect(category(d, 0x0901_0FFC) == .rtc)
    #expect(d.board.rtc?.intid == 34)
    let access = try #require(MMIOAccess(DataAbortISS(1 << 24 | 2 << 22), address: IPA(0x0901_0000)))
    #expect(d.bus.dispatch(access, storeValue: 0, vcpu: 0) == .completed(value: 1_780_000_000, category: .rtc))
    #expect(category(try devices { $0.rtc = nil }, 0x0901_0000) == nil)
  }

  @Test func ramAndHolesAreNotMMIO() throws {
    let d = try devices()
    #expect(category(d, 0x4000_0000) == nil)
    #expect(category(d, 0) == nil)
    #expect(category(d, 0x0801_0000) == nil)   // GICC is mapped in stage 2, never trapped
  }

  @Test func movedDevicesFollowTheBoard() throws {
    let d = try devices(.v2, cpus: 1) { $0.uartBase = 0x1000_0000; $0.gpioBase = 0x1001_0000 }
    #expect(category(d, 0x1000_0004) == .uart)
    #expect(category(d, 0x0900_0004) == nil)
    #expect(category(d, 0x1001_0400) == .gpio)
    #expect(category(d, 0x0903_0400) == nil)
  }

  @Test func overlappingBoardIsRefused() throws {
    #expect(throws: BusError.self) { try devices { $0.gpioBase = 0x0900_0800 } }
  }

  @Test func stage2MapHasRAMAndOnlyTheGICv2CPUInterface() {
    let v3 = GuestBoard(cpuCount: 1, memory: Self.ram, gicVersion: .v3)
    #expect(v3.stage2Map(ramAt: PA(0x8000_0000), virtualCPUInterfaceAt: PA(0x0804_0000))
      == [Stage2Mapping(ipa: IPA(0x4000_0000), pa: PA(0x8000_0000), size: 0x1000_0000, attributes: .normal)])
    let v2 = GuestBoard(cpuCount: 1, memory: Self.ram, gicVersion: .v2)
    #expect(v2.stage2Map(ramAt: PA(0x8000_0000), virtualCPUInterfaceAt: PA(0x0804_0000)).last
      == Stage2Mapping(ipa: IPA(0x0801_0000), pa: PA(0x0804_0000), size: 0x2000, attributes: .device))
  }
}

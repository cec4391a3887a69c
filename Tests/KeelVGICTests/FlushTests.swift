import Testing
import KeelArch
import KeelVGIC

/// List registers in plain memory. The guest's acknowledge and EOI are simulated by changing
/// a register's state, as the CPU interface would.
struct FakeListRegisters: ListRegisterFile {
  static let empty = ListRegister(virtualID: 0, state: .invalid, group1: false, priority: 0)
  var registers: [ListRegister]
  var resamples = 0
  /// Every `setUnderflowInterrupt` call, in order.
  var underflowRequests: [Bool] = []
  var writes = 0

  init(count: Int) { registers = [ListRegister](repeating: Self.empty, count: count) }

  var listRegisterCount: Int { registers.count }
  func readListRegister(_ n: Int) -> ListRegister { registers[n] }
  mutating func writeListRegister(_ n: Int, _ lr: ListRegister) { registers[n] = lr; writes += 1 }
  mutating func clearListRegister(_ n: Int) { registers[n] = Self.empty }
  func emptyListRegisters() -> UInt64 {
    var bits: UInt64 = 0
    for (n, lr) in registers.enumerated() where lr.state == .invalid { bits |= 1 << UInt64(n) }
    return bits
  }
  mutating func resampleAfterGuestDeactivation() { resamples += 1 }
  /// Every `deactivatePhysical` call, in order.
  var deactivated: [UInt32] = []
  mutating func deactivatePhysical(_ intid: UInt32) { deactivated.append(intid) }
  mutating func setUnderflowInterrupt(_ on: Bool) { underflowRequests.append(on) }

  /// The guest read the IAR: the register's interrupt becomes active.
  mutating func acknowledge(_ n: Int) {
    if registers[n].state == .pending { registers[n].state = .active }
  }
  /// The guest's EOI (priority drop and deactivation).
  mutating func endOfInterrupt(_ n: Int) {
    switch registers[n].state {
    case .pendingActive: registers[n].state = .pending
    default: registers[n].state = .invalid
    }
  }
  var ids: [UInt32?] { registers.map { $0.state == .invalid ? nil : $0.virtualID } }
}

/// One vCPU's side of the flush, as the hypervisor's exit path drives it.
final class Machine {
  var lrs: FakeListRegisters
  var inUse: UInt64 = 0
  let guest: Guest

  init(_ version: GICVersion, listRegisters: Int) {
    guest = Guest(gic: VGIC(version: version, affinities: fourCPUs()))
    if version == .v3 { guest.linuxV3Init() } else { guest.linuxV2Init() }
    lrs = FakeListRegisters(count: listRegisters)
  }

  func flush(vcpu: Int = 0) { guest.gic.flush(vcpu: vcpu, inUse: &inUse, into: &lrs) }
  func edge(_ intid: UInt32) -> VGICEffects { guest.gic.signalEdge(intid: intid) }
  var hasPending: Bool { VGIC.hasPendingInListRegisters(inUse: inUse, lrs) }
}

@Suite struct FlushTests {
  func edgeSPIs(_ m: Machine, _ intids: [Int], priorities: [UInt8]) {
    for (i, p) in zip(intids, priorities) {
      let cfg = Reg.icfgr + UInt64(i / 16) * 4
      m.guest.write(cfg, m.guest.read(cfg) | UInt64(2) << UInt64(2 * (i % 16)))
      m.guest.write(Reg.ipriorityr + UInt64(i), UInt64(p), .byte)
      m.guest.enable(i)
    }
  }

  @Test func nothingToDoTouchesNothing() {
    let m = Machine(.v3, listRegisters: 4)
    m.flush()
    #expect(m.lrs.underflowRequests.isEmpty && m.lrs.writes == 0 && m.inUse == 0)
  }

  @Test(arguments: [GICVersion.v3, .v2]) func fillsByPriority(version: GICVersion) {
    let m = Machine(version, listRegisters: 4)
    edgeSPIs(m, [40, 41, 42], priorities: [0xA0, 0x80, 0x90])
    for i: UInt32 in [40, 41, 42] { _ = m.guest.gic.signalEdge(intid: i) }
    m.flush()
    #expect(m.lrs.ids == [41, 42, 40, nil])
    #expect(m.inUse == 0b111)
    #expect(m.lrs.registers[0].priority == 0x80)
    #expect(m.lrs.underflowRequests == [false])
    #expect(m.hasPending)
  }

  @Test func freesDrainedListRegistersAndRefillsThem() {
    let m = Machine(.v3, listRegisters: 4)
    edgeSPIs(m, [40, 41], priorities: [0xA0, 0xA0])
    m.guest.enable(43)
    _ = m.guest.gic.signalEdge(intid: 40)
    _ = m.guest.gic.signalEdge(intid: 41)
    m.flush()
    #expect(m.lrs.ids == [40, 41, nil, nil])
    m.lrs.acknowledge(0)
    m.lrs.endOfInterrupt(0)
    // The guest completed 40; a level line went up meanwhile.
    _ = m.guest.gic.setLevel(intid: 43, true)
    m.flush()
    #expect(m.inUse == 0b011)
    #expect(m.lrs.ids == [43, 41, nil, nil])
    #expect(m.lrs.registers[0].eoiMaintenance)
    // Completed edges are gone; nothing else to offer.
    m.lrs.endOfInterrupt(1)
    m.flush()
    #expect(m.inUse == 0b001)
    #expect(m.lrs.ids == [43, nil, nil, nil])
    // The level line is still high at EOI: offered again in the freed register.
    m.lrs.endOfInterrupt(0)
    m.flush()
    #expect(m.lrs.ids == [43, nil, nil, nil])
    _ = m.guest.gic.setLevel(intid: 43, false)
    m.lrs.endOfInterrupt(0)
    m.flush()
    #expect(m.inUse == 0 && m.lrs.ids == [nil, nil, nil, nil])
    #expect(!m.hasPending)
    #expect(m.lrs.resamples == 0)
  }

  @Test(arguments: [GICVersion.v3, .v2]) func underflowRequestedWhenMoreThanFit(version: GICVersion) {
    let m = Machine(version, listRegisters: 2)
    edgeSPIs(m, [40, 41, 42], priorities: [0x80, 0x90, 0xA0])
    for i: UInt32 in [40, 41, 42] { _ = m.guest.gic.signalEdge(intid: i) }
    m.flush()
    #expect(m.lrs.ids == [40, 41])
    #expect(m.lrs.underflowRequests.last == true)
    m.lrs.endOfInterrupt(0)
    m.lrs.endOfInterrupt(1)
    m.flush()
    #expect(m.lrs.ids == [42, nil])
    #expect(m.inUse == 0b01)
    #expect(m.lrs.underflowRequests.last == false)
  }

  @Test(arguments: [GICVersion.v3, .v2]) func edgeIsMergedIntoItsActiveListRegister(version: GICVersion) {
    let m = Machine(version, listRegisters: 4)
    edgeSPIs(m, [40], priorities: [0xA0])
    _ = m.guest.gic.signalEdge(intid: 40)
    m.flush()
    m.lrs.acknowledge(0)
    #expect(!m.hasPending)
    #expect(m.edge(40).kick == 1)
    m.flush()
    #expect(m.lrs.registers[0].state == .pendingActive)
    #expect(m.lrs.ids == [40, nil, nil, nil] && m.inUse == 0b1)
    #expect(m.hasPending)
    // EOI of the first instance: the second is taken from the same register.
    m.lrs.endOfInterrupt(0)
    m.flush()
    #expect(m.lrs.registers[0].state == .pending && m.inUse == 0b1)
    m.lrs.acknowledge(0)
    m.lrs.endOfInterrupt(0)
    m.flush()
    #expect(m.inUse == 0 && m.lrs.ids == [nil, nil, nil, nil])
  }

  @Test func hardwareLinkedListRegisterIsResampledWhenFreed() {
    let m = Machine(.v3, listRegisters: 4)
    m.guest.enable(27, v3: 0)
    _ = m.guest.injectHardware(intid: 27, vcpu: 0)
    m.flush()
    let lr = m.lrs.registers[0]
    #expect(lr.hardware && lr.physicalID == 27 && lr.virtualID == 27)
    m.lrs.acknowledge(0)
    m.lrs.endOfInterrupt(0)
    m.flush()
    #expect(m.lrs.resamples == 1)
    #expect(m.inUse == 0)
    // Not offered again until the hardware fires again.
    #expect(!m.guest.gic.hasDeliverable(vcpu: 0))
    _ = m.guest.injectHardware(intid: 27, vcpu: 0)
    m.flush()
    #expect(m.lrs.ids == [27, nil, nil, nil])
  }

  @Test func pendingCheckLooksOnlyAtRegistersInUse() {
    var lrs = FakeListRegisters(count: 4)
    lrs.registers[1] = ListRegister(virtualID: 40, state: .pending, group1: true, priority: 0xA0)
    lrs.registers[2] = ListRegister(virtualID: 41, state: .active, group1: true, priority: 0xA0)
    lrs.registers[3] = ListRegister(virtualID: 42, state: .pendingActive, group1: true, priority: 0xA0)
    #expect(!VGIC.hasPendingInListRegisters(inUse: 0b0101, lrs))
    #expect(VGIC.hasPendingInListRegisters(inUse: 0b0010, lrs))
    #expect(VGIC.hasPendingInListRegisters(inUse: 0b1000, lrs))
    #expect(!VGIC.hasPendingInListRegisters(inUse: 0b0100, lrs))
    #expect(!VGIC.hasPendingInListRegisters(inUse: 0, lrs))
  }
}

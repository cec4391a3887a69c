import Testing
import KeelArch
import KeelVGIC

/// `VGIC.signalEdge`: edge-triggered SPIs (device models, MSIs through a GICv2m frame).
@Suite struct EdgeInputTests {
  static let versions: [GICVersion] = [.v3, .v2]

  func booted(_ version: GICVersion) -> Guest {
    let g = Guest(gic: VGIC(version: version, affinities: fourCPUs()))
    if version == .v3 { g.linuxV3Init() } else { g.linuxV2Init() }
    return g
  }

  /// GICD_ICFGR: make `intid` edge-triggered, as Linux does for an MSI.
  func configureEdge(_ g: Guest, _ intid: Int) {
    let offset = Reg.icfgr + UInt64(intid / 16) * 4
    let bit = UInt64(2) << UInt64(2 * (intid % 16))
    g.write(offset, g.read(offset) | bit)
  }

  func edge(_ g: Guest, _ intid: UInt32) -> VGICEffects { g.gic.signalEdge(intid: intid) }
  func merge(_ g: Guest, _ lr: ListRegister) -> ListRegister? { g.gic.mergeResident(lr, vcpu: 0) }

  func isPending(_ g: Guest, _ intid: Int) -> Bool {
    let b = Guest.bit(Reg.ispendr, intid)
    return g.read(b.offset) & b.value != 0
  }

  func withState(_ lr: ListRegister, _ state: ListRegisterState) -> ListRegister {
    var out = lr
    out.state = state
    return out
  }

  @Test(arguments: versions) func oneEdgeGivesOneInterrupt(version: GICVersion) throws {
    let g = booted(version)
    configureEdge(g, 40)
    g.enable(40)
    #expect(edge(g, 40).kick == 1)
    #expect(g.gic.needsFlush(vcpu: 0))
    #expect(isPending(g, 40))
    let lr = try #require(g.take(0))
    #expect(lr.virtualID == 40 && lr.state == .pending && !lr.hardware)
    // Edge-triggered: no EOI maintenance needed for a resample.
    #expect(!lr.eoiMaintenance)
    #expect(g.take(0) == nil)
    #expect(!g.synced(withState(lr, .active), vcpu: 0))
    #expect(g.complete(lr, on: 0))
    // Unlike a high level line, it is not offered again after the guest's EOI.
    #expect(!g.gic.hasDeliverable(vcpu: 0))
    #expect(g.take(0) == nil)
    #expect(!isPending(g, 40))
  }

  @Test(arguments: versions) func edgeOnALevelConfiguredLineStillGivesOneInterrupt(version: GICVersion) throws {
    // A guest that left the line level-sensitive: the edge is still a single interrupt.
    let g = booted(version)
    g.enable(41)
    #expect(edge(g, 41).kick == 1)
    let lr = try #require(g.take(0))
    #expect(lr.virtualID == 41)
    #expect(g.complete(lr, on: 0))
    #expect(!g.gic.hasDeliverable(vcpu: 0))
    #expect(g.take(0) == nil)
  }

  @Test(arguments: versions) func edgeWhileActiveIsMergedAndTakenAfterEOI(version: GICVersion) throws {
    let g = booted(version)
    configureEdge(g, 40)
    g.enable(40)
    _ = edge(g, 40)
    let first = try #require(g.take(0))
    let active = withState(first, .active)
    #expect(!g.synced(active, vcpu: 0))
    // A second edge while the guest handles the first: the vCPU is kicked to merge it.
    #expect(edge(g, 40).kick == 1)
    #expect(g.gic.needsFlush(vcpu: 0))
    // Not a second list register: it folds into the resident one.
    let merged = try #require(merge(g, active))
    #expect(merged.state == .pendingActive && merged.virtualID == 40)
    #expect(merge(g, merged) == nil)
    #expect(g.take(0) == nil)
    // The guest's EOI of the first instance leaves it pending in the list register.
    #expect(!g.synced(withState(first, .pending), vcpu: 0))
    #expect(isPending(g, 40))
    // Acknowledged and completed: exactly two interrupts in all.
    #expect(!g.synced(withState(first, .active), vcpu: 0))
    #expect(g.complete(first, on: 0))
    #expect(!g.gic.hasDeliverable(vcpu: 0))
    #expect(g.take(0) == nil)
  }

  @Test(arguments: versions) func edgeWhileActiveIsDeliveredAfterEOIWithoutAMerge(version: GICVersion) throws {
    // The guest completes the first instance before the list registers are flushed.
    let g = booted(version)
    configureEdge(g, 40)
    g.enable(40)
    _ = edge(g, 40)
    let first = try #require(g.take(0))
    _ = g.synced(withState(first, .active), vcpu: 0)
    #expect(edge(g, 40).kick == 1)
    #expect(g.complete(first, on: 0))
    #expect(g.gic.hasDeliverable(vcpu: 0))
    let second = try #require(g.take(0))
    #expect(second.virtualID == 40 && second.state == .pending)
    #expect(g.complete(second, on: 0))
    #expect(g.take(0) == nil)
  }

  @Test(arguments: versions) func edgesBeforeAcknowledgeCoalesce(version: GICVersion) throws {
    let g = booted(version)
    configureEdge(g, 40)
    g.enable(40)
    _ = edge(g, 40)
    _ = edge(g, 40)
    let lr = try #require(g.take(0))
    #expect(g.take(0) == nil)
    // Another edge while it is still pending in the list register: coalesces too.
    #expect(edge(g, 40).kick == 1)
    let merged = try #require(merge(g, lr))
    #expect(merged.state == .pending)
    #expect(g.complete(lr, on: 0))
    #expect(!g.gic.hasDeliverable(vcpu: 0))
    #expect(g.take(0) == nil)
  }

  @Test(arguments: versions) func disabledEdgeStaysLatchedUntilEnabled(version: GICVersion) throws {
    let g = booted(version)
    configureEdge(g, 42)
    #expect(edge(g, 42).kick == 0)
    #expect(!g.gic.hasDeliverable(vcpu: 0))
    #expect(g.take(0) == nil)
    #expect(isPending(g, 42))
    #expect(g.write(Guest.bit(Reg.isenabler, 42).offset, Guest.bit(Reg.isenabler, 42).value).kick == 1)
    let lr = try #require(g.take(0))
    #expect(lr.virtualID == 42)
    #expect(g.complete(lr, on: 0))
    #expect(g.take(0) == nil)
  }

  @Test(arguments: versions) func levelAndEdgeLinesCoexist(version: GICVersion) throws {
    let g = booted(version)
    configureEdge(g, 40)
    g.enable(40)
    g.enable(41)
    // The edge line at a higher priority (lower value).
    g.write(Reg.ipriorityr + 40, 0xA0A0_A080)
    _ = g.setLevel(intid: 41, true)
    _ = edge(g, 40)
    let both = g.drain(0)
    #expect(both.map(\.virtualID) == [40, 41])
    #expect(both.map(\.eoiMaintenance) == [false, true])
    for lr in both { g.complete(lr, on: 0) }
    // The level line is still high and comes back; the edge does not.
    let again = g.drain(0)
    #expect(again.map(\.virtualID) == [41])
    _ = g.setLevel(intid: 41, false)
    for lr in again { g.complete(lr, on: 0) }
    #expect(g.drain(0).isEmpty)
    // A new edge while the level line is low again: just the edge.
    _ = edge(g, 40)
    #expect(g.drain(0).map(\.virtualID) == [40])
  }

  @Test(arguments: versions) func privateAndInvalidINTIDsAreIgnored(version: GICVersion) {
    let g = booted(version)
    if version == .v3 { g.enable(27, v3: 0) } else { g.enable(27) }
    let lines = UInt32(g.gic.interruptLines)
    for intid: UInt32 in [0, 5, 15, 16, 27, 31, lines, lines + 1, 1020, 1023, UInt32.max] {
      #expect(edge(g, intid) == VGICEffects())
    }
    for cpu in 0..<4 {
      #expect(!g.gic.hasDeliverable(vcpu: cpu))
      #expect(g.drain(cpu).isEmpty)
    }
  }
}

import Testing
import KeelArch
@testable import KeelVGIC

/// The vGIC scans only its candidate bits for something to deliver. Whatever a guest, its
/// devices and the list registers do, that scan must find what a scan of every interrupt line
/// finds: a long random run of all of them, checked after every step.
@Suite struct CandidateTests {
  /// Every line, in INTID order: the highest priority, the lowest INTID among equals.
  func bruteForce(_ gic: VGIC, vcpu: Int) -> Int? {
    var best: Int? = nil
    var bestPriority = 256
    for i in 0..<gic.interruptLines {
      let s = gic.state(i, vcpu)
      guard gic.deliverable(s), Int(s.priority) < bestPriority else { continue }
      if i >= 32 && gic.target(ofSPI: s) != vcpu { continue }
      best = i
      bestPriority = Int(s.priority)
    }
    return best
  }

  @Test(arguments: [GICVersion.v3, .v2]) func scanOfCandidatesMatchesScanOfEveryLine(version: GICVersion) {
    var rng = SplitMix(seed: version == .v3 ? 3 : 2)
    let m = Machine(version, listRegisters: 4)
    let lines = m.guest.gic.interruptLines
    for step in 0..<20_000 {
      let intid = Int(rng.next() % UInt64(lines))
      let bit = Guest.bit(0, intid)
      let vcpu = Int(rng.next() % 4)
      m.guest.vcpu = vcpu
      switch rng.next() % 12 {
      case 0: m.guest.write(Reg.isenabler + bit.offset, bit.value)
      case 1: m.guest.write(Reg.icenabler + bit.offset, bit.value)
      case 2: m.guest.write(Reg.ispendr + bit.offset, bit.value)
      case 3: m.guest.write(Reg.icpendr + bit.offset, bit.value)
      case 4: m.guest.write(Reg.isactiver + bit.offset, bit.value)
      case 5: m.guest.write(Reg.icactiver + bit.offset, bit.value)
      case 6: m.guest.write(Reg.ipriorityr + UInt64(intid), rng.next() & 0xF0, .byte)
      case 7: if intid >= 32 { _ = m.guest.setLevel(intid: UInt32(intid), rng.next() & 1 == 1) }
      case 8: if intid >= 32 { _ = m.guest.gic.signalEdge(intid: UInt32(intid)) }
      case 9: _ = m.guest.sendSGI(from: vcpu, value: version == .v3 ? UInt64(intid % 16) << 24 | 0xF : UInt64(intid % 16))
      case 10:
        // vCPU 0 runs: its list registers fill, the guest acknowledges or completes some.
        m.flush()
        for n in 0..<m.lrs.registers.count where rng.next() & 1 == 1 {
          if rng.next() & 1 == 1 { m.lrs.acknowledge(n) } else { m.lrs.endOfInterrupt(n) }
        }
        m.guest.gic.syncResident(vcpu: 0, inUse: m.inUse, from: m.lrs)
      default: m.guest.write(Reg.ctlr, rng.next() & 1 == 1 ? m.guest.read(Reg.ctlr) ^ 1 : m.guest.read(Reg.ctlr))
      }
      for v in 0..<4 {
        let expected = bruteForce(m.guest.gic, vcpu: v)
        #expect(m.guest.gic.nextDeliverable(vcpu: v, firstFound: false) == expected, "step \(step), vCPU \(v)")
        #expect(m.guest.gic.hasDeliverable(vcpu: v) == (expected != nil), "step \(step), vCPU \(v)")
        if m.guest.gic.hasDeliverable(vcpu: v) != (expected != nil) { return }
      }
    }
  }
}

/// A small deterministic generator (SplitMix64), so a failure names a reproducible step.
struct SplitMix {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// The exit path copies interrupt states: within 24 bytes a copy stays in registers.
@Test func interruptStateStaysSmall() {
  #expect(MemoryLayout<InterruptState>.size <= 24)
  var s = InterruptState()
  s.owner = 300
  #expect(s.owner == 300)
}

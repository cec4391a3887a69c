import KeelArch
import KeelVGIC

/// Register offsets as the Linux drivers name them (include/linux/irqchip/arm-gic{,-v3}.h).
enum Reg {
  static let ctlr: UInt64 = 0x0000, typer: UInt64 = 0x0004, iidr: UInt64 = 0x0008
  static let igroupr: UInt64 = 0x0080, isenabler: UInt64 = 0x0100, icenabler: UInt64 = 0x0180
  static let ispendr: UInt64 = 0x0200, icpendr: UInt64 = 0x0280, isactiver: UInt64 = 0x0300, icactiver: UInt64 = 0x0380
  static let ipriorityr: UInt64 = 0x0400, itargetsr: UInt64 = 0x0800, icfgr: UInt64 = 0x0C00
  static let sgir: UInt64 = 0x0F00, irouter: UInt64 = 0x6000, pidr2: UInt64 = 0xFFE8
  // GICR, RD_base frame.
  static let gicrTyper: UInt64 = 0x0008, gicrWaker: UInt64 = 0x0014
  // GICR, SGI_base frame (64 KiB above RD_base).
  static let sgiBase: UInt64 = 0x1_0000
  static let redistributorStride: UInt64 = 0x2_0000
}

/// A guest's view of the vGIC's MMIO, from one vCPU. A class so that accesses can sit inside `#expect`.
final class Guest {
  var gic: VGIC
  var vcpu = 0
  init(gic: VGIC) { self.gic = gic }

  // Forwarders, so that mutating vGIC calls can sit inside `#expect`.
  func take(_ vcpu: Int) -> ListRegister? { gic.takeNext(vcpu: vcpu) }
  func setLevel(intid: UInt32, _ level: Bool) -> VGICEffects { gic.setLevel(intid: intid, level) }
  func injectHardware(intid: UInt32, vcpu: Int) -> VGICEffects { gic.injectHardware(intid: intid, vcpu: vcpu) }
  func sendSGI(from source: Int, value: UInt64) -> VGICEffects { gic.sendSGI(from: source, value: value) }
  func synced(_ lr: ListRegister, vcpu: Int) -> Bool { gic.listRegisterSynced(lr, vcpu: vcpu) }

  func read(_ offset: UInt64, _ size: AccessSize = .word) -> UInt64 {
    gic.distributorRead(offset: offset, size: size, vcpu: vcpu)
  }
  @discardableResult
  func write(_ offset: UInt64, _ value: UInt64, _ size: AccessSize = .word) -> VGICEffects {
    gic.distributorWrite(offset: offset, size: size, value: value, vcpu: vcpu)
  }
  /// `offset` inside vCPU `frame`'s redistributor.
  func readR(_ frame: Int, _ offset: UInt64, _ size: AccessSize = .word) -> UInt64 {
    gic.redistributorRead(offset: UInt64(frame) * Reg.redistributorStride + offset, size: size, vcpu: vcpu)
  }
  @discardableResult
  func writeR(_ frame: Int, _ offset: UInt64, _ value: UInt64, _ size: AccessSize = .word) -> VGICEffects {
    gic.redistributorWrite(offset: UInt64(frame) * Reg.redistributorStride + offset, size: size, value: value, vcpu: vcpu)
  }

  /// One bit of a set/clear-style register array.
  static func bit(_ base: UInt64, _ intid: Int) -> (offset: UInt64, value: UInt64) {
    (base + UInt64(intid / 32) * 4, UInt64(1) << UInt64(intid % 32))
  }

  /// What Linux's GICv3 driver does at boot (gic_dist_init + gic_cpu_init for every CPU), minus the
  /// parts that are system registers.
  func linuxV3Init() {
    write(Reg.ctlr, 0)
    let lines = gic.interruptLines
    for i in stride(from: 32, to: lines, by: 32) { write(Reg.igroupr + UInt64(i / 8), 0xFFFF_FFFF) }
    for i in stride(from: 32, to: lines, by: 16) { write(Reg.icfgr + UInt64(i / 4), 0) }      // level
    for i in stride(from: 32, to: lines, by: 4) { write(Reg.ipriorityr + UInt64(i), 0xA0A0_A0A0) }
    for i in stride(from: 32, to: lines, by: 32) {
      write(Reg.icactiver + UInt64(i / 8), 0xFFFF_FFFF)
      write(Reg.icenabler + UInt64(i / 8), 0xFFFF_FFFF)
    }
    write(Reg.ctlr, 1 << 4 | 1 << 1 | 1 << 0)       // ARE_NS | EnableGrp1A | EnableGrp1
    let boot = gic.affinities[0]
    let route = UInt64(boot.aff3) << 32 | UInt64(boot.aff2) << 16 | UInt64(boot.aff1) << 8 | UInt64(boot.aff0)
    for i in 32..<lines { write(Reg.irouter + UInt64(i) * 8, route, .doubleword) }
    for cpu in 0..<gic.vcpuCount {
      let waker = readR(cpu, Reg.gicrWaker)
      writeR(cpu, Reg.gicrWaker, waker & ~2)
      writeR(cpu, Reg.sgiBase + Reg.igroupr, 0xFFFF_FFFF)
      writeR(cpu, Reg.sgiBase + Reg.icactiver, 0xFFFF_FFFF)
      writeR(cpu, Reg.sgiBase + Reg.icenabler, 0xFFFF_0000)   // PPIs off
      writeR(cpu, Reg.sgiBase + Reg.isenabler, 0x0000_FFFF)   // SGIs on
      for i in stride(from: 0, to: 32, by: 4) { writeR(cpu, Reg.sgiBase + Reg.ipriorityr + UInt64(i), 0xA0A0_A0A0) }
    }
  }

  /// What Linux's GICv2 driver does at boot (gic_dist_init, gic_cpu_init on each CPU).
  func linuxV2Init() {
    write(Reg.ctlr, 0)
    let lines = gic.interruptLines
    var mask = read(Reg.itargetsr) & 0xFF
    mask |= mask << 8; mask |= mask << 16
    for i in stride(from: 32, to: lines, by: 4) { write(Reg.itargetsr + UInt64(i), mask) }
    for i in stride(from: 32, to: lines, by: 16) { write(Reg.icfgr + UInt64(i / 4), 0) }
    for i in stride(from: 32, to: lines, by: 4) { write(Reg.ipriorityr + UInt64(i), 0xA0A0_A0A0) }
    for i in stride(from: 32, to: lines, by: 32) {
      write(Reg.icactiver + UInt64(i / 8), 0xFFFF_FFFF)
      write(Reg.icenabler + UInt64(i / 8), 0xFFFF_FFFF)
    }
    let me = vcpu
    for cpu in 0..<gic.vcpuCount {
      vcpu = cpu
      write(Reg.icactiver, 0xFFFF_FFFF)
      write(Reg.icenabler, 0xFFFF_0000)
      write(Reg.isenabler, 0x0000_FFFF)
      for i in stride(from: 0, to: 32, by: 4) { write(Reg.ipriorityr + UInt64(i), 0xA0A0_A0A0) }
    }
    vcpu = me
    write(Reg.ctlr, 1)
  }

  /// Enable one interrupt the way Linux's irq_enable does it, from the current vCPU.
  func enable(_ intid: Int, v3 frame: Int? = nil) {
    if let frame, intid < 32 {
      writeR(frame, Reg.sgiBase + Reg.isenabler, 1 << UInt64(intid))
    } else {
      let b = Guest.bit(Reg.isenabler, intid)
      write(b.offset, b.value)
    }
  }

  /// Everything deliverable to `vcpu`, in the order the vGIC hands it out, marking each as resident.
  func drain(_ vcpu: Int) -> [ListRegister] {
    var out: [ListRegister] = []
    while let lr = gic.takeNext(vcpu: vcpu) { out.append(lr) }
    return out
  }

  /// The guest acknowledged and EOI'd `lr`: it comes back from hardware invalid.
  @discardableResult
  func complete(_ lr: ListRegister, on vcpu: Int) -> Bool {
    var done = lr
    done.state = .invalid
    return gic.listRegisterSynced(done, vcpu: vcpu)
  }
}

func fourCPUs() -> [Affinity] {
  [Affinity(aff0: 0), Affinity(aff0: 1), Affinity(aff1: 1, aff0: 0), Affinity(aff1: 1, aff0: 1)]
}

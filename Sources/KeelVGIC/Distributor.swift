import KeelArch

/// GICD register offsets (IHI 0069 12.9 / IHI 0048B 4.3).
enum GICD {
  static let ctlr: UInt64 = 0x000, typer: UInt64 = 0x004, iidr: UInt64 = 0x008, typer2: UInt64 = 0x00C
  static let statusr: UInt64 = 0x010
  static let igroupr: UInt64 = 0x080, isenabler: UInt64 = 0x100, icenabler: UInt64 = 0x180
  static let ispendr: UInt64 = 0x200, icpendr: UInt64 = 0x280, isactiver: UInt64 = 0x300, icactiver: UInt64 = 0x380
  static let ipriorityr: UInt64 = 0x400, itargetsr: UInt64 = 0x800, icfgr: UInt64 = 0xC00
  static let igrpmodr: UInt64 = 0xD00, nsacr: UInt64 = 0xE00
  static let sgir: UInt64 = 0xF00, cpendsgir: UInt64 = 0xF10, spendsgir: UInt64 = 0xF20
  static let irouter: UInt64 = 0x6000
  static let pidr2: UInt64 = 0xFFE8
  /// Implementer ARM (0x43B), as QEMU's and Arm's GICs report; Linux only checks the PIDR2 architecture field.
  static let iidrValue: UInt32 = 0x0000_043B
}

/// One-bit-per-interrupt register groups, shared by GICD and the GICR SGI frame.
enum BitField { case group, setEnable, clearEnable, setPending, clearPending, setActive, clearActive }

extension VGIC {
  public static let distributorSize: UInt64 = 0x10000

  // MARK: GICD

  public mutating func distributorRead(offset: UInt64, size: AccessSize, vcpu: Int) -> UInt64 {
    switch offset {
    case GICD.ctlr:
      // v3: ARE and DS read as one: affinity routing only, a single security state.
      return UInt64(version == .v3 ? ctlr | 1 << 4 | 1 << 6 : ctlr)
    case GICD.typer:
      let lines = UInt64(interruptLines / 32 - 1)
      switch version {
      case .v2: return lines | UInt64(vcpuCount - 1) << 5
      // IDbits = 9 (10-bit INTIDs), no LPIs, no MBIS, no security extensions.
      case .v3: return lines | 9 << 19 | 1 << 24 /* A3V */
      }
    case GICD.iidr: return UInt64(GICD.iidrValue)
    case GICD.typer2, GICD.statusr: return 0
    case GICD.pidr2: return version == .v3 ? 0x3B : 0x2B
    case GICD.igroupr..<GICD.isenabler: return bitRead(.group, offset - GICD.igroupr, vcpu)
    case GICD.isenabler..<GICD.icenabler: return bitRead(.setEnable, offset - GICD.isenabler, vcpu)
    case GICD.icenabler..<GICD.ispendr: return bitRead(.clearEnable, offset - GICD.icenabler, vcpu)
    case GICD.ispendr..<GICD.icpendr: return bitRead(.setPending, offset - GICD.ispendr, vcpu)
    case GICD.icpendr..<GICD.isactiver: return bitRead(.clearPending, offset - GICD.icpendr, vcpu)
    case GICD.isactiver..<GICD.icactiver: return bitRead(.setActive, offset - GICD.isactiver, vcpu)
    case GICD.icactiver..<GICD.ipriorityr: return bitRead(.clearActive, offset - GICD.icactiver, vcpu)
    case GICD.ipriorityr..<(GICD.ipriorityr + 0x400):
      return byteRead(offset - GICD.ipriorityr, size, vcpu) { s, _ in s.priority }
    case GICD.itargetsr..<(GICD.itargetsr + 0x400) where version == .v2:
      return byteRead(offset - GICD.itargetsr, size, vcpu) { s, i in i < 32 ? UInt8(1 << (vcpu & 7)) : s.targets }
    case GICD.icfgr..<(GICD.icfgr + 0x100): return configRead(offset - GICD.icfgr, vcpu)
    case GICD.irouter..<(GICD.irouter + 0x2000) where version == .v3:
      let i = Int((offset - GICD.irouter) / 8)
      guard i >= 32, isValid(i) else { return 0 }
      let r = state(i, vcpu).route
      return offset & 4 == 0 ? (size == .doubleword ? r : r & 0xFFFF_FFFF) : r >> 32
    default:
      return 0
    }
  }

  public mutating func distributorWrite(offset: UInt64, size: AccessSize, value: UInt64, vcpu: Int) -> VGICEffects {
    switch offset {
    case GICD.ctlr:
      ctlr = UInt32(value & 3)
      // Enabling a group can make latched interrupts deliverable.
      var e = VGICEffects()
      for v in 0..<vcpuCount where hasDeliverable(vcpu: v) { dirty[v] = true; e.kick |= 1 << UInt64(v) }
      return e
    case GICD.igroupr..<GICD.isenabler: return bitWrite(.group, offset - GICD.igroupr, value, vcpu)
    case GICD.isenabler..<GICD.icenabler: return bitWrite(.setEnable, offset - GICD.isenabler, value, vcpu)
    case GICD.icenabler..<GICD.ispendr: return bitWrite(.clearEnable, offset - GICD.icenabler, value, vcpu)
    case GICD.ispendr..<GICD.icpendr: return bitWrite(.setPending, offset - GICD.ispendr, value, vcpu)
    case GICD.icpendr..<GICD.isactiver: return bitWrite(.clearPending, offset - GICD.icpendr, value, vcpu)
    case GICD.isactiver..<GICD.icactiver: return bitWrite(.setActive, offset - GICD.isactiver, value, vcpu)
    case GICD.icactiver..<GICD.ipriorityr: return bitWrite(.clearActive, offset - GICD.icactiver, value, vcpu)
    case GICD.ipriorityr..<(GICD.ipriorityr + 0x400):
      return byteWrite(offset - GICD.ipriorityr, size, value, vcpu) { s, _, b in s.priority = b }
    case GICD.itargetsr..<(GICD.itargetsr + 0x400) where version == .v2:
      let valid = UInt8(truncatingIfNeeded: (1 << vcpuCount) - 1)
      return byteWrite(offset - GICD.itargetsr, size, value, vcpu) { s, i, b in
        if i >= 32 { s.targets = b & valid }
      }
    case GICD.icfgr..<(GICD.icfgr + 0x100): return configWrite(offset - GICD.icfgr, value, vcpu)
    case GICD.sgir where version == .v2:
      let sgi = Int(value & 0xF)
      let list = UInt8(value >> 16 & 0xFF)
      var e = VGICEffects()
      for t in 0..<vcpuCount {
        let selected: Bool
        switch value >> 24 & 3 {
        case 0: selected = list >> UInt8(t) & 1 == 1
        case 1: selected = t != vcpu
        case 2: selected = t == vcpu
        default: selected = false
        }
        if selected { e.merge(raiseSGI(sgi, from: vcpu, to: t)) }
      }
      return e
    case GICD.irouter..<(GICD.irouter + 0x2000) where version == .v3:
      let i = Int((offset - GICD.irouter) / 8)
      guard i >= 32, isValid(i) else { return VGICEffects() }
      // Keep Aff3..Aff0 and IRM only.
      let mask: UInt64 = 0xFF_0000_0000 | 1 << 31 | 0xFF_FFFF
      return update(i, vcpu) { s in
        if size == .doubleword { s.route = value & mask }
        else if offset & 4 == 0 { s.route = (s.route & ~0xFFFF_FFFF) | (value & 0xFFFF_FFFF & mask) }
        else { s.route = (s.route & 0xFFFF_FFFF) | ((value & 0xFFFF_FFFF) << 32 & mask) }
      }
    default:
      return VGICEffects()
    }
  }

  // MARK: Shared register-group helpers

  /// With affinity routing (GICv3) the distributor's banked private registers are RAZ/WI;
  /// the redistributor owns them.
  func distributorOwns(_ intid: Int) -> Bool { intid >= 32 || version == .v2 }

  func bitRead(_ field: BitField, _ rel: UInt64, _ vcpu: Int, privateFrame: Bool = false) -> UInt64 {
    let first = Int(rel / 4) * 32
    var out: UInt64 = 0
    for b in 0..<32 {
      let i = first + b
      guard isValid(i), privateFrame ? i < 32 : distributorOwns(i) else { continue }
      let s = state(i, vcpu)
      let bit: Bool
      switch field {
      case .group: bit = s.group1
      case .setEnable, .clearEnable: bit = s.enabled
      case .setPending, .clearPending: bit = s.pending || (s.inListRegister && s.residentPending)
      case .setActive, .clearActive: bit = s.active
      }
      if bit { out |= 1 << UInt64(b) }
    }
    return out
  }

  mutating func bitWrite(_ field: BitField, _ rel: UInt64, _ value: UInt64, _ vcpu: Int, privateFrame: Bool = false) -> VGICEffects {
    let first = Int(rel / 4) * 32
    var effects = VGICEffects()
    for b in 0..<32 {
      let i = first + b
      guard isValid(i), privateFrame ? i < 32 : distributorOwns(i) else { continue }
      let one = value >> UInt64(b) & 1 == 1
      if field != .group && !one { continue }
      // SGIs are always enabled on GICv2 (their enable bits are RAO/WI there).
      if i < 16 && version == .v2 && (field == .setEnable || field == .clearEnable) { continue }
      if state(i, vcpu).inListRegister, let change = ResidentChange(field) {
        effects.merge(changeResident(i, vcpu, change))
        continue
      }
      let wasHardwareLatched = state(i, vcpu).hardware && state(i, vcpu).pendingLatch
      effects.merge(update(i, vcpu) { s in
        switch field {
        case .group: s.group1 = one
        case .setEnable: s.enabled = true
        case .clearEnable: s.enabled = false
        case .setPending: s.pendingLatch = true
        case .clearPending: s.pendingLatch = false; s.sgiSources = 0
        case .setActive: s.active = true
        case .clearActive: s.active = false
        }
      })
      if wasHardwareLatched && i < 32 && field == .clearPending {
        // The guest dropped a latched hardware interrupt: release the physical one too.
        _ = update(i, vcpu) { $0.pendingLatch = false; $0.hardware = false }
        effects.deactivateHardware |= 1 << UInt32(i)
      }
    }
    return effects
  }

  func byteRead(_ rel: UInt64, _ size: AccessSize, _ vcpu: Int, _ get: (InterruptState, Int) -> UInt8) -> UInt64 {
    var out: UInt64 = 0
    for k in 0..<min(size.bytes, 4) {
      let i = Int(rel) + k
      if isValid(i) { out |= UInt64(get(state(i, vcpu), i)) << UInt64(8 * k) }
    }
    return out
  }

  mutating func byteWrite(_ rel: UInt64, _ size: AccessSize, _ value: UInt64, _ vcpu: Int,
                          _ set: (inout InterruptState, Int, UInt8) -> Void) -> VGICEffects {
    var effects = VGICEffects()
    for k in 0..<min(size.bytes, 4) {
      let i = Int(rel) + k
      guard isValid(i) else { continue }
      let b = UInt8(truncatingIfNeeded: value >> UInt64(8 * k))
      effects.merge(update(i, vcpu) { set(&$0, i, b) })
    }
    return effects
  }

  func configRead(_ rel: UInt64, _ vcpu: Int) -> UInt64 {
    let first = Int(rel / 4) * 16
    var out: UInt64 = 0
    for k in 0..<16 where isValid(first + k) {
      if state(first + k, vcpu).edge { out |= 2 << UInt64(2 * k) }
    }
    return out
  }

  mutating func configWrite(_ rel: UInt64, _ value: UInt64, _ vcpu: Int) -> VGICEffects {
    let first = Int(rel / 4) * 16
    var effects = VGICEffects()
    // SGI configuration is fixed (edge); PPIs and SPIs are programmable.
    for k in 0..<16 where isValid(first + k) && first + k >= 16 {
      let edge = value >> UInt64(2 * k + 1) & 1 == 1
      effects.merge(update(first + k, vcpu) { $0.edge = edge })
    }
    return effects
  }
}

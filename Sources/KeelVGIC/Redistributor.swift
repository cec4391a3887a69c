import KeelArch

/// GICR offsets (IHI 0069 12.10/12.11). Each vCPU owns a 128 KiB frame pair: RD_base then SGI_base.
enum GICR {
  static let frameSize: UInt64 = 0x20000
  static let sgiBase: UInt64 = 0x10000
  static let ctlr: UInt64 = 0x0, iidr: UInt64 = 0x4, typer: UInt64 = 0x8, statusr: UInt64 = 0x10
  static let waker: UInt64 = 0x14, propbaser: UInt64 = 0x70, pendbaser: UInt64 = 0x78
  static let pidr2: UInt64 = 0xFFE8
}

extension VGIC {
  /// Size of the redistributor region the guest sees.
  public var redistributorRegionSize: UInt64 { GICR.frameSize * UInt64(vcpuCount) }

  public mutating func redistributorRead(offset: UInt64, size: AccessSize, vcpu: Int) -> UInt64 {
    let frame = Int(offset / GICR.frameSize)
    guard version == .v3, frame < vcpuCount else { return 0 }
    let rel = offset % GICR.frameSize
    if rel >= GICR.sgiBase { return sgiFrameRead(rel - GICR.sgiBase, size, owner: frame) }
    switch rel {
    case GICR.iidr: return UInt64(GICD.iidrValue)
    case GICR.typer, GICR.typer + 4:
      let last: UInt64 = frame == vcpuCount - 1 ? 1 << 4 : 0
      let typer = UInt64(affinities[frame].packed32) << 32 | UInt64(frame) << 8 | last
      if rel == GICR.typer + 4 { return typer >> 32 }
      return size == .doubleword ? typer : typer & 0xFFFF_FFFF
    case GICR.waker:
      // ProcessorSleep (bit 1) and ChildrenAsleep (bit 2) follow each other at once.
      return redistributorAwake[frame] ? 0 : 0b110
    case GICR.pidr2: return 0x3B
    default: return 0
    }
  }

  public mutating func redistributorWrite(offset: UInt64, size: AccessSize, value: UInt64, vcpu: Int) -> VGICEffects {
    let frame = Int(offset / GICR.frameSize)
    guard version == .v3, frame < vcpuCount else { return VGICEffects() }
    let rel = offset % GICR.frameSize
    if rel >= GICR.sgiBase { return sgiFrameWrite(rel - GICR.sgiBase, size, value, owner: frame) }
    if rel == GICR.waker { redistributorAwake[frame] = value & 2 == 0 }
    return VGICEffects()
  }

  func sgiFrameRead(_ rel: UInt64, _ size: AccessSize, owner: Int) -> UInt64 {
    switch rel {
    case 0x080: return bitRead(.group, 0, owner, privateFrame: true)
    case 0x100: return bitRead(.setEnable, 0, owner, privateFrame: true)
    case 0x180: return bitRead(.clearEnable, 0, owner, privateFrame: true)
    case 0x200: return bitRead(.setPending, 0, owner, privateFrame: true)
    case 0x280: return bitRead(.clearPending, 0, owner, privateFrame: true)
    case 0x300: return bitRead(.setActive, 0, owner, privateFrame: true)
    case 0x380: return bitRead(.clearActive, 0, owner, privateFrame: true)
    case 0x400..<0x420: return byteRead(rel - 0x400, size, owner) { s, _ in s.priority }
    case 0xC00, 0xC04: return configRead(rel - 0xC00, owner)
    default: return 0
    }
  }

  mutating func sgiFrameWrite(_ rel: UInt64, _ size: AccessSize, _ value: UInt64, owner: Int) -> VGICEffects {
    switch rel {
    case 0x080: return bitWrite(.group, 0, value, owner, privateFrame: true)
    case 0x100: return bitWrite(.setEnable, 0, value, owner, privateFrame: true)
    case 0x180: return bitWrite(.clearEnable, 0, value, owner, privateFrame: true)
    case 0x200: return bitWrite(.setPending, 0, value, owner, privateFrame: true)
    case 0x280: return bitWrite(.clearPending, 0, value, owner, privateFrame: true)
    case 0x300: return bitWrite(.setActive, 0, value, owner, privateFrame: true)
    case 0x380: return bitWrite(.clearActive, 0, value, owner, privateFrame: true)
    case 0x400..<0x420: return byteWrite(rel - 0x400, size, value, owner) { s, _, b in s.priority = b }
    case 0xC00, 0xC04: return configWrite(rel - 0xC00, value, owner)
    default: return VGICEffects()
    }
  }
}

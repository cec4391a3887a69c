/// State of an interrupt in a list register.
public enum ListRegisterState: UInt8, Sendable {
  case invalid = 0, pending = 1, active = 2, pendingActive = 3
}

/// One virtual interrupt as a list register holds it, independent of the GIC version.
/// GICv3: ICH_LR<n>_EL2 (IHI 0069, 12.4.6); GICv2: GICH_LR<n> (IHI 0048B, 5.3.11).
public struct ListRegister: Equatable, Sendable {
  public var virtualID: UInt32
  public var state: ListRegisterState
  public var group1: Bool
  public var priority: UInt8
  /// Linked to a physical interrupt: the guest's EOI deactivates `physicalID` in hardware, no exit.
  public var hardware: Bool
  public var physicalID: UInt32
  /// Software interrupts only: raise a maintenance interrupt when the guest EOIs this one
  /// (used to resample level-sensitive lines).
  public var eoiMaintenance: Bool
  /// GICv2 SGIs only: the requesting CPU the guest reads back from GICC_IAR.
  public var sourceCPU: UInt8

  public init(virtualID: UInt32, state: ListRegisterState, group1: Bool, priority: UInt8,
              hardware: Bool = false, physicalID: UInt32 = 0, eoiMaintenance: Bool = false, sourceCPU: UInt8 = 0) {
    self.virtualID = virtualID; self.state = state; self.group1 = group1; self.priority = priority
    self.hardware = hardware; self.physicalID = physicalID; self.eoiMaintenance = eoiMaintenance; self.sourceCPU = sourceCPU
  }

  public init(v3 raw: UInt64) {
    let hw = raw >> 61 & 1 == 1
    self.init(virtualID: UInt32(truncatingIfNeeded: raw),
              state: ListRegisterState(rawValue: UInt8(raw >> 62 & 3))!,
              group1: raw >> 60 & 1 == 1, priority: UInt8(truncatingIfNeeded: raw >> 48),
              hardware: hw, physicalID: hw ? UInt32(raw >> 32 & 0x3FF) : 0,
              eoiMaintenance: !hw && raw >> 41 & 1 == 1)
  }

  public var v3: UInt64 {
    var raw = UInt64(state.rawValue) << 62 | UInt64(priority) << 48 | UInt64(virtualID)
    if group1 { raw |= 1 << 60 }
    if hardware { raw |= 1 << 61 | UInt64(physicalID & 0x3FF) << 32 } else if eoiMaintenance { raw |= 1 << 41 }
    return raw
  }

  public init(v2 raw: UInt32) {
    let hw = raw >> 31 & 1 == 1
    self.init(virtualID: raw & 0x3FF, state: ListRegisterState(rawValue: UInt8(raw >> 28 & 3))!,
              group1: raw >> 30 & 1 == 1, priority: UInt8(raw >> 23 & 0x1F) << 3,
              hardware: hw, physicalID: hw ? raw >> 10 & 0x3FF : 0,
              eoiMaintenance: !hw && raw >> 19 & 1 == 1,
              sourceCPU: hw ? 0 : UInt8(raw >> 10 & 7))
  }

  public var v2: UInt32 {
    var raw = UInt32(state.rawValue) << 28 | UInt32(priority >> 3) << 23 | virtualID & 0x3FF
    if group1 { raw |= 1 << 30 }
    if hardware {
      raw |= 1 << 31 | (physicalID & 0x3FF) << 10
    } else {
      if eoiMaintenance { raw |= 1 << 19 }
      raw |= UInt32(sourceCPU & 7) << 10
    }
    return raw
  }
}

import KeelArch

/// A vCPU's self-hosted debug registers: hardware breakpoints (DBGBVRn_EL1/DBGBCRn_EL1) and
/// watchpoints (DBGWVRn_EL1/DBGWCRn_EL1), Arm ARM D2 and D19.3.
///
/// Every access traps (MDCR_EL2.TDA, which the VMware backdoor needs), so this file is the
/// guest's view. The hardware registers hold a vCPU's values only while it runs, and only once
/// it has written one (`touched`): vCPUs that never debug cost nothing at a switch, and a
/// vCPU's breakpoints never fire in another.
public struct DebugRegisterFile: Equatable, Sendable {
  public enum Kind: Int, Sendable, CaseIterable {
    case breakpointValue = 4, breakpointControl = 5, watchpointValue = 6, watchpointControl = 7
  }

  /// DBGB/DBGW registers are `op0 = 2, op1 = 0, CRn = 0, CRm = n, op2 = 4…7`.
  public static func decode(_ r: SystemRegisterEncoding) -> (kind: Kind, index: Int)? {
    guard r.op0 == 2, r.op1 == 0, r.crn == 0, let kind = Kind(rawValue: Int(r.op2)) else { return nil }
    return (kind, Int(r.crm))
  }

  /// Implemented breakpoints and watchpoints (ID_AA64DFR0_EL1.BRPs + 1, WRPs + 1).
  public let breakpoints: Int
  public let watchpoints: Int
  public private(set) var values: [[UInt64]]
  /// The vCPU has written a breakpoint or watchpoint register: from now on they are switched
  /// with it.
  public private(set) var touched = false

  public init(idAA64DFR0: UInt64) {
    breakpoints = Int(idAA64DFR0 >> 12 & 0xF) + 1
    watchpoints = Int(idAA64DFR0 >> 20 & 0xF) + 1
    values = [[UInt64]](repeating: [UInt64](repeating: 0, count: 16), count: 4)
  }

  public func count(of kind: Kind) -> Int {
    kind == .breakpointValue || kind == .breakpointControl ? breakpoints : watchpoints
  }

  /// Bits the guest can set: the rest is RES0 and reads as zero, as on hardware. Value
  /// registers keep the virtual address bits (and the top byte a breakpoint context may use).
  static func writableBits(_ kind: Kind) -> UInt64 {
    switch kind {
    case .breakpointValue: return 0xFFFF_FFFF_FFFF_FFFC
    case .watchpointValue: return 0xFFFF_FFFF_FFFF_FFF8
    // E, PMC, BAS, HMC, SSC, LBN, BT.
    case .breakpointControl: return 0x00FF_E1E7
    // E, PAC, LSC, BAS, HMC, SSC, LBN, WT, MASK.
    case .watchpointControl: return 0x1F1F_FFFF
    }
  }

  public func read(_ kind: Kind, _ index: Int) -> UInt64 {
    index < count(of: kind) ? values[kind.rawValue - 4][index] : 0
  }

  /// The value the hardware register must now hold, or nil when `index` is not implemented
  /// (the write is ignored, as the register does not exist).
  public mutating func write(_ kind: Kind, _ index: Int, _ value: UInt64) -> UInt64? {
    guard index < count(of: kind) else { return nil }
    let kept = value & Self.writableBits(kind)
    values[kind.rawValue - 4][index] = kept
    touched = true
    return kept
  }
}

/// Debug registers a guest may write and read back that change nothing (claim tags, the OS lock
/// and the like), kept per vCPU. At most `capacity` distinct registers are kept; a write to
/// another is ignored and it reads as zero, so a guest cannot grow the hypervisor's memory. Two
/// arrays rather than a Dictionary: hashing sizes its table with floating point, which the EL2
/// image is built without.
public struct ShadowRegisters: Equatable, Sendable {
  public static let capacity = 32
  private var keys: [UInt32] = []
  private var values: [UInt64] = []

  public init() {}

  public subscript(key: UInt32) -> UInt64 {
    get { keys.firstIndex(of: key).map { values[$0] } ?? 0 }
    set {
      if let i = keys.firstIndex(of: key) {
        values[i] = newValue
      } else if keys.count < Self.capacity {
        keys.append(key)
        values.append(newValue)
      }
    }
  }
}

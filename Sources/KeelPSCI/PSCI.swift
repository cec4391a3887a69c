import KeelArch

/// SMCCC function identifiers Keel answers (SMCCC 1.1, PSCI 1.1 = Arm DEN 0022D).
public struct FunctionID: RawRepresentable, Hashable, Sendable {
  public let rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }

  public static let smcccVersion = FunctionID(rawValue: 0x8000_0000)
  public static let smcccArchFeatures = FunctionID(rawValue: 0x8000_0001)
  public static let smcccArchSocID = FunctionID(rawValue: 0x8000_0002)
  public static let archWorkaround1 = FunctionID(rawValue: 0x8000_8000)
  public static let archWorkaround2 = FunctionID(rawValue: 0x8000_7FFF)
  public static let archWorkaround3 = FunctionID(rawValue: 0x8000_3FFF)

  public static let psciVersion = FunctionID(rawValue: 0x8400_0000)
  public static let cpuSuspend32 = FunctionID(rawValue: 0x8400_0001)
  public static let cpuSuspend64 = FunctionID(rawValue: 0xC400_0001)
  public static let cpuOff = FunctionID(rawValue: 0x8400_0002)
  public static let cpuOn32 = FunctionID(rawValue: 0x8400_0003)
  public static let cpuOn64 = FunctionID(rawValue: 0xC400_0003)
  public static let affinityInfo32 = FunctionID(rawValue: 0x8400_0004)
  public static let affinityInfo64 = FunctionID(rawValue: 0xC400_0004)
  public static let migrateInfoType = FunctionID(rawValue: 0x8400_0006)
  public static let systemOff = FunctionID(rawValue: 0x8400_0008)
  public static let systemReset = FunctionID(rawValue: 0x8400_0009)
  public static let psciFeatures = FunctionID(rawValue: 0x8400_000A)

  /// SMC32 calls pass 32-bit arguments; the upper halves of the registers are ignored.
  public var is32Bit: Bool { rawValue & 0x4000_0000 == 0 }
}

/// PSCI return codes (DEN 0022D table 6).
public struct PSCIStatus: RawRepresentable, Hashable, Sendable {
  public let rawValue: Int32
  public init(rawValue: Int32) { self.rawValue = rawValue }
  public static let success = PSCIStatus(rawValue: 0)
  public static let notSupported = PSCIStatus(rawValue: -1)
  public static let invalidParameters = PSCIStatus(rawValue: -2)
  public static let denied = PSCIStatus(rawValue: -3)
  public static let alreadyOn = PSCIStatus(rawValue: -4)
  public static let onPending = PSCIStatus(rawValue: -5)
  public static let internalFailure = PSCIStatus(rawValue: -6)
  public static let notPresent = PSCIStatus(rawValue: -7)
  public static let disabled = PSCIStatus(rawValue: -8)
  public static let invalidAddress = PSCIStatus(rawValue: -9)
  /// Sign-extended into X0, as the caller compares it as a signed long.
  public var register: UInt64 { UInt64(bitPattern: Int64(rawValue)) }
}

/// The power state of a vCPU as PSCI AFFINITY_INFO reports it.
public enum VCPUPowerState: Sendable, Equatable {
  case on, off, onPending
}

/// CPU_SUSPEND's power_state argument in the original (not extended) format.
public struct SuspendRequest: Equatable, Sendable {
  public let raw: UInt32
  public init(_ raw: UInt32) { self.raw = raw }
  /// Powerdown states lose context: the vCPU resumes at the given entry point, as from CPU_ON.
  public var isPowerdown: Bool { raw >> 16 & 1 == 1 }
  public var stateID: UInt16 { UInt16(truncatingIfNeeded: raw) }
  /// How deep the guest asked to sleep; deeper requests tolerate coarser wake-ups.
  public var affinityLevel: Int { Int(raw >> 24 & 3) }
}

/// What the hypervisor must do after a guest's SMCCC call. PSCI is pure: it decides, the
/// caller (which owns vCPUs and host CPUs) acts.
public enum PSCIAction: Equatable, Sendable {
  /// Write these into X0..X3 and resume the guest.
  case complete(x0: UInt64, x1: UInt64 = 0, x2: UInt64 = 0, x3: UInt64 = 0)
  /// Power on the vCPU with this index at `entry` with X0 = `context`; answer SUCCESS to the caller.
  case cpuOn(target: Int, entry: UInt64, context: UInt64)
  case cpuOff
  case suspend(SuspendRequest, entry: UInt64, context: UInt64)
  case systemOff
  case systemReset
}

/// What PSCI needs to know about the VM.
public protocol PSCIMachine {
  var vcpuCount: Int { get }
  func affinity(ofVCPU index: Int) -> Affinity
  func powerState(ofVCPU index: Int) -> VCPUPowerState
  /// Whether `address` is guest RAM a vCPU may start executing from.
  func isValidEntryPoint(_ address: UInt64) -> Bool
}

public enum PSCI {
  public static let version: UInt64 = 0x0001_0001   // PSCI 1.1
  public static let smcccVersion: UInt64 = 0x0001_0001  // SMCCC 1.1

  /// Whether the answer to a call depends on the vCPUs' power states (CPU_ON, AFFINITY_INFO),
  /// which the caller must then hold still. Every other call is answered from its arguments.
  public static func consultsPowerStates(_ x0: UInt64) -> Bool {
    let id = UInt32(truncatingIfNeeded: x0) & ~0x4000_0000   // SMC32 and SMC64 alike
    return x0 >> 32 == 0 && (id == FunctionID.cpuOn32.rawValue || id == FunctionID.affinityInfo32.rawValue)
  }

  /// Decides the answer to one SMCCC call (HVC #0 or a trapped SMC #0).
  /// - Parameter args: X0..X3 of the caller.
  public static func handle<M: PSCIMachine>(_ x0: UInt64, _ x1: UInt64, _ x2: UInt64, _ x3: UInt64, machine: M) -> PSCIAction {
    // Bits [63:32] of a function ID must be zero (SMCCC 1.1 §2.5).
    guard x0 >> 32 == 0 else { return .complete(x0: PSCIStatus.notSupported.register) }
    // Only the Arm architecture calls (owning entity 0) and PSCI (4) are served: anything else
    // is answered before the per-call dispatch.
    let owner = x0 >> 24 & 0x3F
    guard owner == 0 || owner == 4 else { return .complete(x0: PSCIStatus.notSupported.register) }
    let fid = FunctionID(rawValue: UInt32(x0))
    let a1 = fid.is32Bit ? x1 & 0xFFFF_FFFF : x1
    let a2 = fid.is32Bit ? x2 & 0xFFFF_FFFF : x2
    let a3 = fid.is32Bit ? x3 & 0xFFFF_FFFF : x3

    switch fid {
    case .smcccVersion: return .complete(x0: smcccVersion)
    case .smcccArchFeatures: return .complete(x0: archFeature(UInt32(truncatingIfNeeded: x1)))
    case .psciVersion: return .complete(x0: version)
    case .psciFeatures: return .complete(x0: psciFeature(UInt32(truncatingIfNeeded: x1)))
    case .migrateInfoType:
      // 2: no Trusted OS, so nothing ever needs migrating.
      return .complete(x0: 2)
    case .cpuOn32, .cpuOn64:
      guard let target = vcpu(withAffinity: Affinity(rawValue: a1), machine) else {
        return .complete(x0: PSCIStatus.invalidParameters.register)
      }
      switch machine.powerState(ofVCPU: target) {
      case .on: return .complete(x0: PSCIStatus.alreadyOn.register)
      case .onPending: return .complete(x0: PSCIStatus.onPending.register)
      case .off: break
      }
      guard machine.isValidEntryPoint(a2) else { return .complete(x0: PSCIStatus.invalidAddress.register) }
      return .cpuOn(target: target, entry: a2, context: a3)
    case .cpuOff: return .cpuOff
    case .cpuSuspend32, .cpuSuspend64:
      let request = SuspendRequest(UInt32(truncatingIfNeeded: a1))
      if request.isPowerdown && !machine.isValidEntryPoint(a2) {
        return .complete(x0: PSCIStatus.invalidAddress.register)
      }
      return .suspend(request, entry: a2, context: a3)
    case .affinityInfo32, .affinityInfo64:
      // Only level 0 (a single vCPU) is meaningful on a flat VM.
      guard a2 == 0 else { return .complete(x0: PSCIStatus.invalidParameters.register) }
      guard let target = vcpu(withAffinity: Affinity(rawValue: a1), machine) else {
        return .complete(x0: PSCIStatus.invalidParameters.register)
      }
      switch machine.powerState(ofVCPU: target) {
      case .on: return .complete(x0: 0)
      case .off: return .complete(x0: 1)
      case .onPending: return .complete(x0: 2)
      }
    case .systemOff: return .systemOff
    case .systemReset: return .systemReset
    default: return .complete(x0: PSCIStatus.notSupported.register)
    }
  }

  /// SMCCC_ARCH_FEATURES. Keel answers NOT_SUPPORTED for the Spectre workaround calls: the guest
  /// then never calls them, instead of calling ARCH_WORKAROUND_2 on every kernel entry and exit
  /// (about two exits per syscall under Xen 4.17, see linux-guest-and-measurement.md §1.4).
  static func archFeature(_ id: UInt32) -> UInt64 {
    switch FunctionID(rawValue: id) {
    case .smcccVersion, .smcccArchFeatures: return 0
    default: return PSCIStatus.notSupported.register
    }
  }

  static func psciFeature(_ id: UInt32) -> UInt64 {
    switch FunctionID(rawValue: id) {
    case .psciVersion, .cpuOff, .cpuOn32, .cpuOn64, .affinityInfo32, .affinityInfo64,
         .migrateInfoType, .systemOff, .systemReset, .psciFeatures, .smcccVersion:
      return 0
    case .cpuSuspend32, .cpuSuspend64:
      // Bit 1 clear: original power_state format; bit 0 clear: no OS-initiated mode.
      return 0
    default: return PSCIStatus.notSupported.register
    }
  }

  static func vcpu<M: PSCIMachine>(withAffinity a: Affinity, _ machine: M) -> Int? {
    for i in 0..<machine.vcpuCount where machine.affinity(ofVCPU: i) == a { return i }
    return nil
  }
}

import Testing
import KeelArch
import KeelPSCI

/// A VM of `affinities.count` vCPUs with RAM at [ramBase, ramBase + ramSize).
struct FakeMachine: PSCIMachine {
  var affinities: [Affinity]
  var states: [VCPUPowerState]
  var ramBase: UInt64 = 0x4000_0000
  var ramSize: UInt64 = 0x1000_0000

  init(vcpus: Int, states: [VCPUPowerState]? = nil) {
    affinities = (0..<vcpus).map { Affinity(aff1: UInt8($0 / 4), aff0: UInt8($0 % 4)) }
    self.states = states ?? [.on] + [VCPUPowerState](repeating: .off, count: vcpus - 1)
  }

  var vcpuCount: Int { affinities.count }
  func affinity(ofVCPU index: Int) -> Affinity { affinities[index] }
  func powerState(ofVCPU index: Int) -> VCPUPowerState { states[index] }
  func isValidEntryPoint(_ address: UInt64) -> Bool { address >= ramBase && address - ramBase < ramSize }
}

/// DEN 0022D return codes, as the 64-bit value the caller sees in X0.
func code(_ v: Int64) -> UInt64 { UInt64(bitPattern: v) }

func call(_ fid: FunctionID, _ x1: UInt64 = 0, _ x2: UInt64 = 0, _ x3: UInt64 = 0, on m: FakeMachine = FakeMachine(vcpus: 4)) -> PSCIAction {
  PSCI.handle(UInt64(fid.rawValue), x1, x2, x3, machine: m)
}

@Suite struct PSCIDiscoveryTests {
  @Test func versions() {
    // PSCI_VERSION: major in [31:16], minor in [15:0].
    guard case .complete(let v, _, _, _) = call(.psciVersion) else { Issue.record("no answer"); return }
    #expect(v >> 16 == 1 && v & 0xFFFF == 1)
    guard case .complete(let s, _, _, _) = call(.smcccVersion) else { Issue.record("no answer"); return }
    #expect(s >> 16 == 1 && s & 0xFFFF == 1)
  }

  @Test func functionIDsFromSpec() {
    #expect(FunctionID.psciVersion.rawValue == 0x8400_0000)
    #expect(FunctionID.cpuOn64.rawValue == 0xC400_0003)
    #expect(FunctionID.psciFeatures.rawValue == 0x8400_000A)
    #expect(FunctionID.smcccArchFeatures.rawValue == 0x8000_0001)
    #expect(FunctionID.cpuOn32.is32Bit)
    #expect(!FunctionID.cpuOn64.is32Bit)
  }

  @Test(arguments: [FunctionID.psciVersion, .cpuOff, .cpuOn32, .cpuOn64, .affinityInfo32, .affinityInfo64,
                    .migrateInfoType, .systemOff, .systemReset, .psciFeatures, .cpuSuspend32, .cpuSuspend64,
                    .smcccVersion])
  func featuresOfImplementedFunctions(_ fid: FunctionID) {
    // Linux reads SMCCC_VERSION only if PSCI_FEATURES(SMCCC_VERSION) succeeds.
    #expect(call(.psciFeatures, UInt64(fid.rawValue)) == .complete(x0: 0))
  }

  @Test func suspendFeatureFlags() {
    guard case .complete(let flags, _, _, _) = call(.psciFeatures, UInt64(FunctionID.cpuSuspend64.rawValue)) else {
      Issue.record("no answer"); return
    }
    // Bit 1: extended StateID format; bit 0: OS-initiated mode. Keel supports neither.
    #expect(flags & 0b11 == 0)
  }

  @Test func featuresOfUnimplementedFunctions() {
    for id: UInt32 in [0x8400_000B /* CPU_FREEZE */, 0xC400_0012 /* SYSTEM_RESET2 */, 0x8400_000E /* SYSTEM_SUSPEND */] {
      #expect(call(.psciFeatures, UInt64(id)) == .complete(x0: code(-1)))
    }
  }

  @Test(arguments: [FunctionID.archWorkaround1, .archWorkaround2, .archWorkaround3, .smcccArchSocID])
  func spectreWorkaroundsAreNotAdvertised(_ fid: FunctionID) {
    #expect(call(.smcccArchFeatures, UInt64(fid.rawValue)) == .complete(x0: code(-1)))
  }

  @Test func archFeaturesOfItself() {
    #expect(call(.smcccArchFeatures, UInt64(FunctionID.smcccArchFeatures.rawValue)) == .complete(x0: 0))
  }

  @Test func workaroundIDValues() {
    // SMCCC v1.1+: ARCH_WORKAROUND_1/2/3.
    #expect(FunctionID.archWorkaround1.rawValue == 0x8000_8000)
    #expect(FunctionID.archWorkaround2.rawValue == 0x8000_7FFF)
    #expect(FunctionID.archWorkaround3.rawValue == 0x8000_3FFF)
  }

  @Test func migrateInfoTypeSaysNoTrustedOS() {
    #expect(call(.migrateInfoType) == .complete(x0: 2))
  }

  @Test func unknownFunctionsAreNotSupportedSignExtended() {
    for id: UInt64 in [0x8400_0042, 0xC500_0000, 0x0000_0000, 0x8000_8000, 0x8400_000E] {
      let a = PSCI.handle(id, 1, 2, 3, machine: FakeMachine(vcpus: 1))
      #expect(a == .complete(x0: 0xFFFF_FFFF_FFFF_FFFF), "\(id)")
    }
    #expect(PSCIStatus.notSupported.register == UInt64.max)
    #expect(PSCIStatus.invalidAddress.register == code(-9))
  }

  /// Calls of other owning entities (standard hypervisor services, vendors, OEMs, trusted OS)
  /// are not served, whatever their number: even one that looks like a PSCI call.
  @Test func otherOwnersAreNotSupported() {
    for id: UInt64 in [0x8600_0000, 0xC600_0003, 0x8600_FF01, 0x8300_0000, 0xB200_0000, 0x8500_0000] {
      #expect(PSCI.handle(id, 1, 2, 3, machine: FakeMachine(vcpus: 2)) == .complete(x0: UInt64.max), "\(id)")
    }
  }

  /// Only CPU_ON and AFFINITY_INFO (either convention) read the vCPUs' power states: the
  /// hypervisor answers every other call without holding them still.
  @Test func onlyCPUOnAndAffinityInfoConsultPowerStates() {
    let consulting: [FunctionID] = [.cpuOn32, .cpuOn64, .affinityInfo32, .affinityInfo64]
    for id: FunctionID in [.psciVersion, .smcccVersion, .smcccArchFeatures, .psciFeatures, .cpuOff, .cpuSuspend32,
                           .cpuSuspend64, .systemOff, .systemReset, .migrateInfoType] + consulting {
      #expect(PSCI.consultsPowerStates(UInt64(id.rawValue)) == consulting.contains(id), "\(id.rawValue)")
    }
    #expect(!PSCI.consultsPowerStates(1 << 32 | UInt64(FunctionID.cpuOn64.rawValue)))
    #expect(!PSCI.consultsPowerStates(0x8600_0000))
  }

  @Test func upperFunctionIDBitsSetAreRejected() {
    // W0 carries the function ID; a caller leaving garbage above it must not reach PSCI_VERSION.
    let a = PSCI.handle(0x1_8400_0000, 0, 0, 0, machine: FakeMachine(vcpus: 1))
    #expect(a == .complete(x0: code(-1)))
  }
}

@Suite struct PSCIPowerTests {
  @Test func cpuOnValid() {
    let m = FakeMachine(vcpus: 6)
    let target = Affinity(aff1: 1, aff0: 1)   // vCPU 5
    #expect(call(.cpuOn64, target.rawValue, 0x4008_0000, 0xDEAD_BEEF_0000_0001, on: m)
            == .cpuOn(target: 5, entry: 0x4008_0000, context: 0xDEAD_BEEF_0000_0001))
  }

  @Test func cpuOnAcceptsFullMPIDR() {
    // Linux passes cpu_logical_map(), MPIDR & 0xff00ffffff, but a full MPIDR with RES1 still names the CPU.
    let m = FakeMachine(vcpus: 2)
    #expect(call(.cpuOn64, Affinity(aff0: 1).mpidr, 0x4000_0000, 0, on: m) == .cpuOn(target: 1, entry: 0x4000_0000, context: 0))
  }

  @Test func cpuOnTargetStates() {
    let m = FakeMachine(vcpus: 3, states: [.on, .on, .onPending])
    #expect(call(.cpuOn64, Affinity(aff0: 1).rawValue, 0x4000_0000, 0, on: m) == .complete(x0: code(-4)))
    #expect(call(.cpuOn64, Affinity(aff0: 2).rawValue, 0x4000_0000, 0, on: m) == .complete(x0: code(-5)))
  }

  @Test func cpuOnBadMPIDR() {
    let m = FakeMachine(vcpus: 2)
    #expect(call(.cpuOn64, Affinity(aff0: 2).rawValue, 0x4000_0000, 0, on: m) == .complete(x0: code(-2)))
    #expect(call(.cpuOn64, Affinity(aff2: 1, aff0: 1).rawValue, 0x4000_0000, 0, on: m) == .complete(x0: code(-2)))
  }

  @Test func cpuOnBadEntry() {
    let m = FakeMachine(vcpus: 2)
    #expect(call(.cpuOn64, 1, 0x1000, 0, on: m) == .complete(x0: code(-9)))
    #expect(call(.cpuOn64, 1, m.ramBase + m.ramSize, 0, on: m) == .complete(x0: code(-9)))
  }

  @Test func smc32ArgumentsAreTruncated() {
    let m = FakeMachine(vcpus: 2)
    let garbage: UInt64 = 0xFFFF_FFFF_0000_0000
    // Upper halves ignored: entry 0x4000_1000 is valid, context loses its upper half.
    #expect(call(.cpuOn32, garbage | 1, garbage | 0x4000_1000, garbage | 0x1234, on: m)
            == .cpuOn(target: 1, entry: 0x4000_1000, context: 0x1234))
    // The same registers through the SMC64 ID keep all 64 bits, so the entry point is outside RAM.
    #expect(call(.cpuOn64, 1, garbage | 0x4000_1000, 0, on: m) == .complete(x0: code(-9)))
  }

  @Test func affinityInfo() {
    let m = FakeMachine(vcpus: 3, states: [.on, .off, .onPending])
    // DEN 0022D: ON = 0, OFF = 1, ON_PENDING = 2.
    #expect(call(.affinityInfo64, Affinity(aff0: 0).rawValue, 0, on: m) == .complete(x0: 0))
    #expect(call(.affinityInfo64, Affinity(aff0: 1).rawValue, 0, on: m) == .complete(x0: 1))
    #expect(call(.affinityInfo32, Affinity(aff0: 2).rawValue, 0, on: m) == .complete(x0: 2))
    #expect(call(.affinityInfo64, Affinity(aff0: 7).rawValue, 0, on: m) == .complete(x0: code(-2)))
    // Only the lowest affinity level is meaningful on a flat VM.
    #expect(call(.affinityInfo64, 0, 1, on: m) == .complete(x0: code(-2)))
    // SMC32: an upper-half lowest_affinity_level is ignored.
    #expect(call(.affinityInfo32, 1, 0xFFFF_FFFF_0000_0000, on: m) == .complete(x0: 1))
  }

  @Test func cpuSuspendStandby() {
    let m = FakeMachine(vcpus: 1)
    let request = call(.cpuSuspend64, 0x0000_0001, 0 /* ignored for standby */, 7, on: m)
    guard case .suspend(let r, _, _) = request else { Issue.record("\(request)"); return }
    #expect(!r.isPowerdown)
    #expect(r.stateID == 1)
  }

  @Test func cpuSuspendPowerdown() {
    let m = FakeMachine(vcpus: 1)
    let state: UInt64 = 1 << 24 | 1 << 16 | 0x42   // level 1, powerdown, StateID 0x42
    let a = call(.cpuSuspend64, state, 0x4000_2000, 0x99, on: m)
    #expect(a == .suspend(SuspendRequest(UInt32(state)), entry: 0x4000_2000, context: 0x99))
    guard case .suspend(let r, _, _) = a else { return }
    #expect(r.isPowerdown && r.stateID == 0x42 && r.affinityLevel == 1)
    #expect(call(.cpuSuspend64, state, 0x10, 0, on: m) == .complete(x0: code(-9)))
  }

  @Test func cpuSuspend32TruncatesPowerState() {
    let m = FakeMachine(vcpus: 1)
    let a = call(.cpuSuspend32, 0xFFFF_FFFF_0000_0003, 0, 0, on: m)
    guard case .suspend(let r, _, _) = a else { Issue.record("\(a)"); return }
    #expect(r.raw == 3 && !r.isPowerdown)
  }

  @Test func offAndSystem() {
    #expect(call(.cpuOff) == .cpuOff)
    #expect(call(.systemOff) == .systemOff)
    #expect(call(.systemReset) == .systemReset)
  }
}

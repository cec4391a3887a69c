import KeelArch


/// Side effects of a vGIC operation that the hypervisor must carry out on real hardware.
public struct VGICEffects: Equatable, Sendable {
  /// vCPUs (bit n = vCPU n) that gained deliverable work and must be kicked if they run elsewhere.
  public var kick: UInt64 = 0
  /// Private interrupts (bit n = INTID n) of the accessing vCPU whose hardware-linked physical
  /// copy must be deactivated on its host CPU, because the guest dropped the virtual one.
  public var deactivateHardware: UInt32 = 0
  public init() {}
  public mutating func merge(_ o: VGICEffects) { kick |= o.kick; deactivateHardware |= o.deactivateHardware }
}

/// An interrupt chosen for a list register.
public struct PendingInterrupt: Equatable, Sendable {
  public var listRegister: ListRegister
}

/// Per-interrupt state of the emulated distributor/redistributor. Kept within 24 bytes (the
/// widest field first, the owner as 16 bits): the exit path copies it, and a copy that small
/// stays in registers where a larger one is a call to memcpy at EL2.
struct InterruptState {
  var route: UInt64 = 0
  private var ownerIndex: UInt16 = 0
  var enabled = false
  /// Latched pending state (edge, SGI, software set, hardware-linked fire).
  var pendingLatch = false
  var active = false
  /// Line level for level-sensitive interrupts driven by a device model.
  var level = false
  var edge = false
  var group1 = false
  var priority: UInt8 = 0
  var targets: UInt8 = 0
  /// Resident in a list register of `owner`; not to be offered again until the guest is done.
  var inListRegister = false
  /// Pending in its list register, as last placed or read back (`syncResident`).
  var residentPending = false
  /// The guest wrote the pending or active state of the resident interrupt: the owner's flush
  /// rewrites its list register to match (`rewriteResident`).
  var residentChanged = false
  /// Linked to the same-numbered physical interrupt.
  var hardware = false
  /// GICv2 SGIs: requesting CPUs still pending.
  var sgiSources: UInt8 = 0

  /// The vCPU whose list register holds it (a VM's vCPU indices fit in 16 bits).
  var owner: Int {
    get { Int(ownerIndex) }
    set { ownerIndex = UInt16(truncatingIfNeeded: newValue) }
  }

  var pending: Bool { pendingLatch || (level && !edge) }
}

/// The virtual GIC of one VM: an emulated distributor (and, for GICv3, redistributors)
/// whose state the hypervisor moves into and out of list registers.
///
/// Version-agnostic core; register layouts differ only in `Distributor.swift` and
/// `Redistributor.swift`. Not thread-safe: the hypervisor holds the VM's vGIC lock.
public struct VGIC {
  public let version: GICVersion
  public let affinities: [Affinity]
  public let spiCount: Int
  var ctlr: UInt32 = 0
  var privateIRQs: [InterruptState]
  var spis: [InterruptState]
  var redistributorAwake: [Bool]
  /// A vCPU's pending set changed since its list registers were last filled.
  var dirty: [Bool]
  /// Interrupts that are pending and enabled and neither active nor in a list register: the
  /// only ones a scan for something to deliver has to look at (the group enables are checked
  /// then). Bit n of `privateCandidates[v]` is vCPU v's INTID n; bit n of `spiCandidates[w]`
  /// is INTID 32 + 64w + n. Every change of an interrupt's state goes through `update`, which
  /// keeps the bits (`syncResident` changes only interrupts in list registers: never candidates).
  var privateCandidates: [UInt32]
  var spiCandidates: [UInt64]

  public var vcpuCount: Int { affinities.count }
  public var interruptLines: Int { 32 + spiCount }

  public init(version: GICVersion, affinities: [Affinity], spiCount: Int = 64) {
    precondition(spiCount % 32 == 0 && spiCount <= 988 && !affinities.isEmpty)
    precondition(version == .v3 || affinities.count <= 8)
    self.version = version
    self.affinities = affinities
    self.spiCount = spiCount
    var privates = [InterruptState](repeating: InterruptState(), count: 32 * affinities.count)
    for v in 0..<affinities.count {
      for i in 0..<16 { privates[v * 32 + i].edge = true; privates[v * 32 + i].enabled = version == .v2 }
    }
    privateIRQs = privates
    spis = [InterruptState](repeating: InterruptState(), count: spiCount)
    redistributorAwake = [Bool](repeating: false, count: affinities.count)
    dirty = [Bool](repeating: false, count: affinities.count)
    privateCandidates = [UInt32](repeating: 0, count: affinities.count)
    spiCandidates = [UInt64](repeating: 0, count: (spiCount + 63) / 64)
  }

  // MARK: Interrupt state access

  // The small queries below are inlined into the mutating operations that use them: called,
  // each would copy the whole vGIC value (80 bytes, through memcpy at EL2) to pass it.
  @inline(__always)
  func isValid(_ intid: Int) -> Bool { intid >= 0 && intid < interruptLines }

  @inline(__always)
  func state(_ intid: Int, _ vcpu: Int) -> InterruptState {
    intid < 32 ? privateIRQs[vcpu * 32 + intid] : spis[intid - 32]
  }

  mutating func update(_ intid: Int, _ vcpu: Int, _ body: (inout InterruptState) -> Void) -> VGICEffects {
    var effects = VGICEffects()
    if intid < 32 {
      body(&privateIRQs[vcpu * 32 + intid])
      let s = privateIRQs[vcpu * 32 + intid]
      noteCandidate(intid, vcpu, s)
      if deliverable(s) || needsMerge(s) { dirty[vcpu] = true; effects.kick |= 1 << UInt64(vcpu) }
    } else {
      body(&spis[intid - 32])
      let s = spis[intid - 32]
      noteCandidate(intid, vcpu, s)
      if deliverable(s) {
        let t = target(ofSPI: s)
        dirty[t] = true
        effects.kick |= 1 << UInt64(t)
      } else if needsMerge(s) {
        dirty[s.owner] = true
        effects.kick |= 1 << UInt64(s.owner)
      }
    }
    return effects
  }

  mutating func noteCandidate(_ intid: Int, _ vcpu: Int, _ s: InterruptState) {
    let candidate = s.pending && s.enabled && !s.inListRegister && !s.active
    if intid < 32 {
      let bit = UInt32(1) << UInt32(intid)
      if candidate { privateCandidates[vcpu] |= bit } else { privateCandidates[vcpu] &= ~bit }
    } else {
      let n = intid - 32, bit = UInt64(1) << UInt64(n % 64)
      if candidate { spiCandidates[n / 64] |= bit } else { spiCandidates[n / 64] &= ~bit }
    }
  }

  @inline(__always)
  func groupEnabled(_ s: InterruptState) -> Bool { ctlr & (s.group1 ? 2 : 1) != 0 }

  /// An active interrupt is not signalled again until it is deactivated (made active by
  /// ISACTIVER, say, without the guest ever acknowledging it).
  @inline(__always)
  func deliverable(_ s: InterruptState) -> Bool {
    s.pending && s.enabled && !s.inListRegister && !s.active && groupEnabled(s)
  }

  /// An edge interrupt raised again while its previous instance still sits in a list register:
  /// the list register must become pending (and active) rather than wait for the guest's EOI.
  @inline(__always)
  func needsMerge(_ s: InterruptState) -> Bool {
    s.pendingLatch && s.inListRegister && s.enabled && !s.hardware && s.sgiSources == 0
  }

  /// Fold a new edge of a resident interrupt into its list register (KVM does the same).
  /// Returns the list register to write back, or nil when nothing changes.
  public mutating func mergeResident(_ lr: ListRegister, vcpu: Int) -> ListRegister? {
    let i = Int(lr.virtualID)
    guard isValid(i), lr.state != .invalid, !lr.hardware else { return nil }
    guard needsMerge(state(i, vcpu)) else { return nil }
    var updated = lr
    switch lr.state {
    case .active: updated.state = .pendingActive
    case .pending, .pendingActive: break    // already pending: edges coalesce, as in hardware
    case .invalid: return nil
    }
    _ = update(i, vcpu) { $0.pendingLatch = false }
    return updated
  }

  /// The vCPU an SPI is delivered to: GICv3 IROUTER affinity, GICv2 lowest ITARGETSR bit.
  /// 1-of-N routing (IRM) and empty or unknown targets go to vCPU 0.
  @inline(__always)
  func target(ofSPI s: InterruptState) -> Int {
    switch version {
    case .v3:
      if s.route >> 31 & 1 == 1 { return 0 }
      let a = Affinity(rawValue: (s.route & 0xFF_FFFF) | (s.route >> 32 & 0xFF) << 32)
      return affinities.firstIndex(of: a) ?? 0
    case .v2:
      guard s.targets != 0 else { return 0 }
      let t = s.targets.trailingZeroBitCount
      return t < vcpuCount ? t : 0
    }
  }

  // MARK: Inputs from devices and hardware

  /// Drive a level-sensitive SPI from a device model.
  public mutating func setLevel(intid: UInt32, _ level: Bool) -> VGICEffects {
    let i = Int(intid)
    guard i >= 32, isValid(i) else { return VGICEffects() }
    return update(i, 0) { $0.level = level }
  }

  /// A physical private interrupt linked to this vCPU fired (for example the virtual timer).
  /// The host has dropped its priority but left it active; the guest's EOI will deactivate it.
  public mutating func injectHardware(intid: UInt32, vcpu: Int) -> VGICEffects {
    let i = Int(intid)
    guard i < 32, vcpu < vcpuCount else { return VGICEffects() }
    return update(i, vcpu) { $0.pendingLatch = true; $0.hardware = true }
  }

  /// Make an SGI pending on `target`, as requested by vCPU `source`.
  mutating func raiseSGI(_ sgi: Int, from source: Int, to target: Int) -> VGICEffects {
    let isV2 = version == .v2
    return update(sgi, target) { s in
      s.pendingLatch = true
      if isV2 { s.sgiSources |= 1 << UInt8(source & 7) }
    }
  }

  /// A trapped write of ICC_SGI1R_EL1 (or ICC_SGI0R/ASGI1R) by vCPU `source`.
  public mutating func sendSGI(from source: Int, value: UInt64) -> VGICEffects {
    var effects = VGICEffects()
    let sgi = Int(value >> 24 & 0xF)
    if value >> 40 & 1 == 1 {
      for t in 0..<vcpuCount where t != source { effects.merge(raiseSGI(sgi, from: source, to: t)) }
      return effects
    }
    let targetList = value & 0xFFFF
    let aff1 = UInt8(value >> 16 & 0xFF), aff2 = UInt8(value >> 32 & 0xFF), aff3 = UInt8(value >> 48 & 0xFF)
    let rangeBase = Int(value >> 44 & 0xF) * 16
    for (t, a) in affinities.enumerated() where a.aff1 == aff1 && a.aff2 == aff2 && a.aff3 == aff3 {
      let bit = Int(a.aff0) - rangeBase
      if bit >= 0 && bit < 16 && targetList >> UInt64(bit) & 1 == 1 {
        effects.merge(raiseSGI(sgi, from: source, to: t))
      }
    }
    return effects
  }

  // MARK: List registers

  /// Whether the vCPU has an interrupt the guest could take now (used to decide if WFI may sleep).
  public func hasDeliverable(vcpu: Int) -> Bool {
    nextDeliverable(vcpu: vcpu, firstFound: true) != nil
  }

  /// The highest-priority deliverable interrupt for `vcpu` (the lowest INTID among equals), or
  /// with `firstFound` any one: a walk over the candidate bits only.
  func nextDeliverable(vcpu: Int, firstFound: Bool) -> Int? {
    var best = -1
    var bestPriority = 256
    var bits = privateCandidates[vcpu]
    while bits != 0 {
      let i = bits.trailingZeroBitCount
      bits &= bits &- 1
      let s = privateIRQs[vcpu * 32 + i]
      guard deliverable(s), Int(s.priority) < bestPriority else { continue }
      if firstFound { return i }
      best = i
      bestPriority = Int(s.priority)
    }
    for w in spiCandidates.indices {
      var bits = spiCandidates[w]
      while bits != 0 {
        let n = w * 64 + bits.trailingZeroBitCount
        bits &= bits &- 1
        let s = spis[n]
        guard deliverable(s), Int(s.priority) < bestPriority, target(ofSPI: s) == vcpu else { continue }
        if firstFound { return n + 32 }
        best = n + 32
        bestPriority = Int(s.priority)
      }
    }
    return best >= 0 ? best : nil
  }

  public func needsFlush(vcpu: Int) -> Bool { dirty[vcpu] }

  /// Take the highest-priority deliverable interrupt for `vcpu` and mark it resident in a
  /// list register. Returns nil (and clears the dirty flag) when there is none.
  public mutating func takeNext(vcpu: Int) -> ListRegister? {
    guard let best = nextDeliverable(vcpu: vcpu, firstFound: false) else { dirty[vcpu] = false; return nil }
    var lr = ListRegister(virtualID: UInt32(best), state: .pending, group1: false, priority: 0)
    let isV2 = version == .v2
    _ = update(best, vcpu) { s in
      lr.group1 = s.group1
      lr.priority = s.priority
      if s.hardware {
        lr.hardware = true
        lr.physicalID = UInt32(best)
        s.pendingLatch = false
      } else if best < 16 && isV2 {
        let src = s.sgiSources.trailingZeroBitCount
        lr.sourceCPU = UInt8(src & 7)
        s.sgiSources &= ~(1 << UInt8(src & 7))
        s.pendingLatch = s.sgiSources != 0
        // Other senders are still waiting, and the list register can hold only one of them.
        // Ask for an exit at EOI so the next one goes in then, not at some unrelated exit.
        lr.eoiMaintenance = s.pendingLatch
      } else {
        s.pendingLatch = false
        // A level line still high after the guest's EOI must be offered again.
        lr.eoiMaintenance = !s.edge
      }
      s.inListRegister = true
      s.owner = vcpu
      s.residentPending = true
      s.residentChanged = false
    }
    return lr
  }

  /// Fold a list register read back from hardware into the distributor state.
  /// Returns true when the register is free again.
  public mutating func listRegisterSynced(_ lr: ListRegister, vcpu: Int) -> Bool {
    let i = Int(lr.virtualID)
    guard isValid(i) else { return true }
    var freed = false
    _ = update(i, vcpu) { s in
      switch lr.state {
      case .invalid:
        s.inListRegister = false
        s.residentPending = false
        s.active = false
        if lr.hardware { s.hardware = s.hardware && s.pendingLatch }
        freed = true
      case .pending: s.active = false
      case .active, .pendingActive: s.active = true
      }
    }
    if freed {
      let s = state(i, vcpu)
      if deliverable(s) { dirty[i < 32 ? vcpu : target(ofSPI: s)] = true }
    }
    return freed
  }
}

import KeelArch
import KeelFDT

/// One VM's machine: RAM, the GIC and its frames, the timer, the UART, the GPIO with the power
/// button, the CPU idle state. Every board fact is written here once; the stage-2 map, the MMIO
/// bus (`VMDevices`) and the guest device tree (`deviceTree()`) are generated from it. Defaults
/// mirror QEMU `virt`, so a stock arm64 defconfig kernel finds its devices where it expects
/// them; every value is a parameter.
public struct GuestBoard: Equatable, Sendable {
  /// A GICv2m MSI frame exposed as a child of the GIC node.
  public struct GICv2mFrame: Equatable, Sendable {
    public var region: MemoryRegion
    /// `arm,msi-base-spi` / `arm,msi-num-spis`; omitted when nil (the frame's TYPER then decides).
    public var baseSPI: UInt32?
    public var spiCount: UInt32?

    public init(region: MemoryRegion, baseSPI: UInt32? = nil, spiCount: UInt32? = nil) {
      self.region = region
      self.baseSPI = baseSPI
      self.spiCount = spiCount
    }
  }

  /// PPI numbers (INTID - 16) of the generic timer, in the binding's order.
  public struct TimerPPIs: Equatable, Sendable {
    public var securePhysical: UInt32 = 13
    public var nonSecurePhysical: UInt32 = 14
    public var virtual: UInt32 = 11
    public var hypervisorPhysical: UInt32 = 10
    /// Only the physical timer: the guest then runs its clock on the (trapped) physical counter.
    public var physicalOnly = false
    /// `clock-frequency` of the timer node, which Linux prefers over CNTFRQ_EL0 (a trapped
    /// physical counter may run at a frequency the hardware register cannot report).
    public var clockFrequency: UInt32? = nil

    public init() {}
  }

  /// MPIDR affinity value of each vCPU, in vCPU order.
  public var cpuAffinities: [UInt64]
  /// Guest RAM as an IPA range.
  public var memory: MemoryRegion
  public var gicVersion: GICVersion
  public var gicDistributor: MemoryRegion
  /// GICv3: start of the single redistributor region; each vCPU takes `gicRedistributorStride`.
  public var gicRedistributorBase: UInt64
  public var gicRedistributorStride: UInt64
  /// GICv2: the CPU interface the guest uses (backed by the host's GICV).
  public var gicCPUInterface: MemoryRegion
  public var gicv2mFrame: GICv2mFrame?
  public var timerPPIs: TimerPPIs
  public var uartBase: UInt64
  public var uartSize: UInt64
  /// SPI number (INTID - 32).
  public var uartSPI: UInt32
  public var uartClockFrequency: UInt32
  public var uartClockName: String
  /// A PL061 GPIO controller with a `gpio-keys` power button on one of its lines, as QEMU
  /// `virt` has: Linux's gpio-keys reports KEY_POWER when the host raises the line.
  public var powerButton: Bool
  public var gpioBase: UInt64
  public var gpioSize: UInt64
  /// SPI number (INTID - 32).
  public var gpioSPI: UInt32
  /// The PL061 line the button is wired to (active high).
  public var powerButtonLine: UInt32
  /// The PL031 real-time clock, where QEMU `virt` has it: without one a guest starts in 1970.
  public var rtc: PrimeCellSlot?
  /// The PMUv3 overflow interrupt's PPI (INTID - 16), 7 on QEMU `virt`; nil: no PMU node
  /// (the host's CPUs have no PMU to give).
  public var pmuPPI: UInt32?
  /// A PSCI CPU_SUSPEND state offered to the guest's cpuidle (`/cpus/idle-states`), so an idle
  /// guest tells the hypervisor how long it expects to sleep: Linux's cpuidle-psci enters it for
  /// idle periods longer than its minimum residency, and plain WFI for shorter ones.
  public var idleState: IdleState?
  public var bootargs: String
  /// Where the initrd sits in guest IPA space; nil means no initrd properties.
  public var initrd: MemoryRegion?
  /// Compatible of an optional `/hypervisor` node (for example "vmware"); nil omits the node.
  public var hypervisorCompatible: String?
  public var model: String
  public var compatible: String
  public var psciCompatible: [String]
  public var psciMethod: PSCIConduit

  public init(cpuCount: Int, memory: MemoryRegion, gicVersion: GICVersion = .v3) {
    precondition(cpuCount >= 1, "a guest needs a vCPU")
    self.init(cpuAffinities: (0..<cpuCount).map { UInt64($0) }, memory: memory, gicVersion: gicVersion)
  }

  public init(cpuAffinities: [UInt64], memory: MemoryRegion, gicVersion: GICVersion = .v3) {
    self.cpuAffinities = cpuAffinities
    self.memory = memory
    self.gicVersion = gicVersion
    gicDistributor = MemoryRegion(base: 0x0800_0000, size: gicVersion == .v3 ? 0x10000 : 0x1000)
    gicRedistributorBase = 0x080A_0000
    gicRedistributorStride = 0x20000
    gicCPUInterface = MemoryRegion(base: 0x0801_0000, size: 0x2000)
    gicv2mFrame = nil
    timerPPIs = TimerPPIs()
    uartBase = 0x0900_0000
    uartSize = 0x1000
    uartSPI = 1
    uartClockFrequency = 24_000_000
    uartClockName = "clk24mhz"
    powerButton = true
    gpioBase = 0x0903_0000
    gpioSize = 0x1000
    gpioSPI = 7
    powerButtonLine = 3
    rtc = PrimeCellSlot(base: 0x0901_0000, size: 0x1000, spi: 2)
    pmuPPI = nil
    idleState = IdleState()
    bootargs = ""
    initrd = nil
    hypervisorCompatible = nil
    model = "Keel virtual machine"
    compatible = "linux,dummy-virt"
    psciCompatible = ["arm,psci-1.0", "arm,psci-0.2"]
    psciMethod = .hvc
  }

  /// The redistributor region sized for every vCPU.
  public var gicRedistributors: MemoryRegion {
    MemoryRegion(base: gicRedistributorBase, size: gicRedistributorStride * UInt64(cpuAffinities.count))
  }

  /// The guest-physical range of the GIC registers Keel emulates (distributor, and
  /// redistributors for GICv3), where a trapped access sees the list registers' state.
  public var gicRegisterWindow: Range<UInt64> {
    let end = gicVersion == .v3 ? max(gicDistributor.end, gicRedistributors.end) : gicDistributor.end
    return gicDistributor.base..<end
  }

  /// SPI INTIDs (the device tree gives SPI numbers, the vGIC INTIDs).
  public var uartINTID: UInt32 { 32 + uartSPI }
  public var gpioINTID: UInt32 { 32 + gpioSPI }

  /// Where guest RAM and the GICv2 CPU interface go in stage 2. Everything else the board
  /// has stays unmapped, so that the guest's accesses trap to the MMIO bus.
  public func stage2Map(ramAt hostRAM: PA, virtualCPUInterfaceAt gicv: PA?) -> [Stage2Mapping] {
    var map = [Stage2Mapping(ipa: IPA(memory.base), pa: hostRAM, size: memory.size, attributes: .normal)]
    if gicVersion == .v2, let gicv {
      map.append(Stage2Mapping(ipa: IPA(gicCPUInterface.base), pa: gicv, size: gicCPUInterface.size, attributes: .device))
    }
    return map
  }

  /// The emulated devices, with the range each owns on the MMIO bus.
  public var devices: [BoardDevice] {
    var list = [BoardDevice(.uart, uartBase, uartSize)]
    list.append(BoardDevice(.gicDistributor, gicDistributor.base, gicDistributor.size))
    if gicVersion == .v3 { list.append(BoardDevice(.gicRedistributors, gicRedistributors.base, gicRedistributors.size)) }
    if powerButton { list.append(BoardDevice(.powerButtonGPIO, gpioBase, gpioSize)) }
    if let rtc { list.append(BoardDevice(.rtc, rtc.base, rtc.size)) }
    return list
  }
}

/// An emulated device of a board and its guest-physical range.
public struct BoardDevice: Equatable, Sendable {
  public enum Kind: Equatable, Sendable { case uart, gicDistributor, gicRedistributors, powerButtonGPIO, rtc }
  public var kind: Kind
  public var base: UInt64
  public var size: UInt64
  public init(_ kind: Kind, _ base: UInt64, _ size: UInt64) {
    self.kind = kind
    self.base = base
    self.size = size
  }
}

/// A PrimeCell device's place on a board: its registers and its SPI.
public struct PrimeCellSlot: Equatable, Sendable {
  public var base: UInt64
  public var size: UInt64
  /// SPI number (INTID - 32).
  public var spi: UInt32
  public var intid: UInt32 { 32 + spi }
  public init(base: UInt64, size: UInt64, spi: UInt32) {
    self.base = base
    self.size = size
    self.spi = spi
  }
}

/// One stage-2 mapping of a board.
public struct Stage2Mapping: Equatable, Sendable {
  public var ipa: IPA
  public var pa: PA
  public var size: UInt64
  public var attributes: Stage2Memory
  public init(ipa: IPA, pa: PA, size: UInt64, attributes: Stage2Memory) {
    self.ipa = ipa
    self.pa = pa
    self.size = size
    self.attributes = attributes
  }
}

/// A CPU idle state of the guest DT (Documentation/devicetree/bindings/cpu/idle-states.yaml).
public struct IdleState: Equatable, Sendable {
  /// PSCI CPU_SUSPEND power_state, original format: a standby (retention) state at the core
  /// level, so no context is lost and the guest's timer keeps running (no `local-timer-stop`).
  public var psciSuspendParameter: UInt32 = 0x0000_0001
  public var entryLatencyMicroseconds: UInt32 = 100
  public var exitLatencyMicroseconds: UInt32 = 200
  /// Shorter predicted idle periods use WFI. Long, because Linux runs its CPU PM notifiers
  /// around every entry (the GICv3 driver's touch the distributor and redistributor: exits),
  /// so the state pays only for the long sleeps of an idle guest, where the hypervisor's
  /// 500 µs slack for it coalesces wake-ups.
  public var minimumResidencyMicroseconds: UInt32 = 20000
  public init() {}
}

/// The virtual machine a Linux guest is told about. Defaults mirror QEMU `virt`, so a stock
/// arm64 defconfig kernel finds its devices where it expects them; every value is a parameter.
public struct GuestPlatform: Equatable, Sendable {
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

  public var uartNodeName: String { "pl011@" + hexString(uartBase) }
  public var uartPath: String { "/" + uartNodeName }
  public var gpioNodeName: String { "pl061@" + hexString(gpioBase) }

  static let gicPhandle: UInt32 = 0x8001
  static let clockPhandle: UInt32 = 0x8000
  static let gpioPhandle: UInt32 = 0x8002
  static let idleStatePhandle: UInt32 = 0x8003
  /// Linux input event code KEY_POWER.
  static let keyPower: UInt32 = 116
  static let levelHigh: UInt32 = 4

  public func build() -> [UInt8] {
    var w = FDTWriter()
    w.beginNode("")
    w.property("#address-cells", u32: 2)
    w.property("#size-cells", u32: 2)
    w.property("compatible", string: compatible)
    w.property("model", string: model)
    w.property("interrupt-parent", u32: Self.gicPhandle)

    if let hypervisorCompatible {
      w.beginNode("hypervisor")
      w.property("compatible", string: hypervisorCompatible)
      w.endNode()
    }
    writeCPUs(&w)
    w.beginNode("memory@" + hexString(memory.base))
    w.property("device_type", string: "memory")
    w.property("reg", regions: [memory], addressCells: 2, sizeCells: 2)
    w.endNode()
    writeGIC(&w)
    writeTimer(&w)
    w.beginNode("psci")
    w.property("compatible", strings: psciCompatible)
    w.property("method", string: psciMethod == .hvc ? "hvc" : "smc")
    w.endNode()
    writeUART(&w)
    if powerButton { writePowerButton(&w) }
    w.beginNode("aliases")
    w.property("serial0", string: uartPath)
    w.endNode()
    w.beginNode("chosen")
    w.property("bootargs", string: bootargs)
    w.property("stdout-path", string: uartPath)
    if let initrd {
      w.property("linux,initrd-start", u64: initrd.base)
      w.property("linux,initrd-end", u64: initrd.end)
    }
    w.endNode()
    w.endNode()
    return w.finish()
  }

  private func writeCPUs(_ w: inout FDTWriter) {
    // One cell suffices unless some MPIDR uses Aff3 (bits 39:32).
    let addressCells: UInt32 = cpuAffinities.allSatisfy { $0 >> 32 == 0 } ? 1 : 2
    w.beginNode("cpus")
    w.property("#address-cells", u32: addressCells)
    w.property("#size-cells", u32: 0)
    for mpidr in cpuAffinities {
      w.beginNode("cpu@" + hexString(mpidr))
      w.property("device_type", string: "cpu")
      w.property("compatible", string: "arm,armv8")
      w.property("enable-method", string: "psci")
      if addressCells == 2 { w.property("reg", u64: mpidr) } else { w.property("reg", u32: UInt32(mpidr)) }
      if idleState != nil { w.property("cpu-idle-states", u32: Self.idleStatePhandle) }
      w.endNode()
    }
    if let idleState {
      w.beginNode("idle-states")
      w.property("entry-method", string: "psci")
      w.beginNode("cpu-standby")
      w.property("phandle", u32: Self.idleStatePhandle)
      w.property("compatible", string: "arm,idle-state")
      w.property("arm,psci-suspend-param", u32: idleState.psciSuspendParameter)
      w.property("entry-latency-us", u32: idleState.entryLatencyMicroseconds)
      w.property("exit-latency-us", u32: idleState.exitLatencyMicroseconds)
      w.property("min-residency-us", u32: idleState.minimumResidencyMicroseconds)
      w.endNode()
      w.endNode()
    }
    w.endNode()
  }

  private func writeGIC(_ w: inout FDTWriter) {
    w.beginNode("intc@" + hexString(gicDistributor.base))
    w.property("phandle", u32: Self.gicPhandle)
    w.property("#interrupt-cells", u32: 3)
    w.property("interrupt-controller")
    // dtc wants #address-cells on every interrupt provider; 2/2 + ranges also serves a v2m child.
    w.property("#address-cells", u32: 2)
    w.property("#size-cells", u32: 2)
    w.property("ranges")
    switch gicVersion {
    case .v3:
      w.property("compatible", string: "arm,gic-v3")
      w.property("#redistributor-regions", u32: 1)
      w.property("reg", regions: [gicDistributor, gicRedistributors], addressCells: 2, sizeCells: 2)
    case .v2:
      w.property("compatible", string: "arm,cortex-a15-gic")
      w.property("reg", regions: [gicDistributor, gicCPUInterface], addressCells: 2, sizeCells: 2)
    }
    if let frame = gicv2mFrame {
      w.beginNode("v2m@" + hexString(frame.region.base))
      w.property("compatible", string: "arm,gic-v2m-frame")
      w.property("msi-controller")
      w.property("reg", regions: [frame.region], addressCells: 2, sizeCells: 2)
      if let base = frame.baseSPI { w.property("arm,msi-base-spi", u32: base) }
      if let count = frame.spiCount { w.property("arm,msi-num-spis", u32: count) }
      w.endNode()
    }
    w.endNode()
  }

  private func writeTimer(_ w: inout FDTWriter) {
    // The GICv2 binding carries a CPU target mask in flags bits 15:8 for PPIs; v2 has 8 CPUs at most.
    var flags = Self.levelHigh
    if gicVersion == .v2 {
      let targets = min(cpuAffinities.count, 8)
      flags |= ((UInt32(1) << UInt32(targets)) - 1) << 8
    }
    let ppis = timerPPIs.physicalOnly
      ? [timerPPIs.securePhysical, timerPPIs.nonSecurePhysical]
      : [timerPPIs.securePhysical, timerPPIs.nonSecurePhysical, timerPPIs.virtual, timerPPIs.hypervisorPhysical]
    w.beginNode("timer")
    w.property("compatible", string: "arm,armv8-timer")
    w.property("interrupts", cells: ppis.flatMap { [1, $0, flags] })
    if let hz = timerPPIs.clockFrequency { w.property("clock-frequency", u32: hz) }
    w.property("always-on")
    w.endNode()
  }

  private func writeUART(_ w: inout FDTWriter) {
    w.beginNode("apb-pclk")
    w.property("compatible", string: "fixed-clock")
    w.property("#clock-cells", u32: 0)
    w.property("clock-frequency", u32: uartClockFrequency)
    w.property("clock-output-names", string: uartClockName)
    w.property("phandle", u32: Self.clockPhandle)
    w.endNode()
    w.beginNode(uartNodeName)
    w.property("compatible", strings: ["arm,pl011", "arm,primecell"])
    w.property("reg", regions: [MemoryRegion(base: uartBase, size: uartSize)], addressCells: 2, sizeCells: 2)
    w.property("interrupts", cells: [0, uartSPI, Self.levelHigh])
    w.property("clocks", cells: [Self.clockPhandle, Self.clockPhandle])
    w.property("clock-names", strings: ["uartclk", "apb_pclk"])
    w.endNode()
  }

  private func writePowerButton(_ w: inout FDTWriter) {
    w.beginNode(gpioNodeName)
    w.property("compatible", strings: ["arm,pl061", "arm,primecell"])
    w.property("reg", regions: [MemoryRegion(base: gpioBase, size: gpioSize)], addressCells: 2, sizeCells: 2)
    w.property("interrupts", cells: [0, gpioSPI, Self.levelHigh])
    w.property("clocks", u32: Self.clockPhandle)
    w.property("clock-names", string: "apb_pclk")
    w.property("gpio-controller")
    w.property("#gpio-cells", u32: 2)
    w.property("interrupt-controller")
    w.property("#interrupt-cells", u32: 2)
    // dtc wants #address-cells on every interrupt provider; its specifiers carry no address.
    w.property("#address-cells", u32: 0)
    w.property("phandle", u32: Self.gpioPhandle)
    w.endNode()
    w.beginNode("gpio-keys")
    w.property("compatible", string: "gpio-keys")
    w.beginNode("poweroff")
    w.property("label", string: "GPIO Key Poweroff")
    w.property("linux,code", u32: Self.keyPower)
    w.property("gpios", cells: [Self.gpioPhandle, powerButtonLine, 0])
    w.endNode()
    w.endNode()
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

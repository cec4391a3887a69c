import KeelArch
import KeelFDT

/// The device tree a Linux guest is given, written from the board.
extension GuestBoard {
  var uartNodeName: String { "pl011@" + hexString(uartBase) }
  var uartPath: String { "/" + uartNodeName }
  var gpioNodeName: String { "pl061@" + hexString(gpioBase) }

  static let gicPhandle: UInt32 = 0x8001
  static let clockPhandle: UInt32 = 0x8000
  static let gpioPhandle: UInt32 = 0x8002
  static let idleStatePhandle: UInt32 = 0x8003
  /// Linux input event code KEY_POWER.
  static let keyPower: UInt32 = 116
  static let levelHigh: UInt32 = 4

  public func deviceTree() -> [UInt8] {
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
    if let pmuPPI { writePMU(&w, pmuPPI) }
    w.beginNode("psci")
    w.property("compatible", strings: psciCompatible)
    w.property("method", string: psciMethod == .hvc ? "hvc" : "smc")
    w.endNode()
    writeUART(&w)
    if powerButton { writePowerButton(&w) }
    if let rtc { writeRTC(&w, rtc) }
    w.beginNode("aliases")
    w.property("serial0", string: uartPath)
    w.endNode()
    w.beginNode("chosen")
    if !bootargs.isEmpty { w.property("bootargs", string: bootargs) }
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

  /// Level-high; the GICv2 binding adds a CPU target mask in bits 15:8 for PPIs (8 CPUs at most).
  private var privateInterruptFlags: UInt32 {
    guard gicVersion == .v2 else { return Self.levelHigh }
    return Self.levelHigh | ((UInt32(1) << UInt32(min(cpuAffinities.count, 8))) - 1) << 8
  }

  private func writeTimer(_ w: inout FDTWriter) {
    let flags = privateInterruptFlags
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

  private func writePMU(_ w: inout FDTWriter, _ ppi: UInt32) {
    w.beginNode("pmu")
    w.property("compatible", string: "arm,armv8-pmuv3")
    w.property("interrupts", cells: [1, ppi, privateInterruptFlags])
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
    // Not the literal `[clockPhandle, clockPhandle]`: swiftc 6.3.1 in Embedded mode, outside the
    // module that defines `FDTWriter`, emits an all-constant array literal as a static object
    // whose elements the image reads as garbage (the guest then has no console).
    w.property("clocks", cells: Array(repeating: Self.clockPhandle, count: 2))
    w.property("clock-names", strings: ["uartclk", "apb_pclk"])
    w.endNode()
  }

  private func writeRTC(_ w: inout FDTWriter, _ rtc: PrimeCellSlot) {
    w.beginNode("pl031@" + hexString(rtc.base))
    w.property("compatible", strings: ["arm,pl031", "arm,primecell"])
    w.property("reg", regions: [MemoryRegion(base: rtc.base, size: rtc.size)], addressCells: 2, sizeCells: 2)
    w.property("interrupts", cells: [0, rtc.spi, Self.levelHigh])
    w.property("clocks", u32: Self.clockPhandle)
    w.property("clock-names", string: "apb_pclk")
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

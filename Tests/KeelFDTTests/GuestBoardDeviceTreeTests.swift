import Testing
import KeelFDT
import KeelVM
import KeelArch

@Suite struct GuestBoardDeviceTreeTests {
  static let ram = MemoryRegion(0x4000_0000, 0x2000_0000)

  @Test func gicv3GuestReparsesToIntendedMachine() throws {
    var platform = GuestBoard(cpuCount: 2, memory: Self.ram)
    platform.bootargs = "console=ttyAMA0 earlycon"
    platform.initrd = MemoryRegion(0x4800_0000, 0x12_3456)
    let blob = platform.deviceTree()
    let machine = try MachineDescription(dtb: blob)
    #expect(machine.cpus == [0, 1])
    #expect(machine.memory == [Self.ram])
    let gic = try #require(machine.gic)
    #expect(gic.version == .v3)
    #expect(gic.distributor == MemoryRegion(0x800_0000, 0x10000))
    #expect(gic.redistributors == [MemoryRegion(0x80a_0000, 0x40000)])
    #expect(gic.cpuInterface == nil && gic.maintenanceINTID == nil && gic.msiFrames.isEmpty)
    #expect(machine.uart == HostUART(base: 0x900_0000, size: 0x1000, intid: 33, path: "/pl011@9000000"))
    #expect(machine.timer == TimerINTIDs(securePhysical: 29, nonSecurePhysical: 30, virtual: 27, hypervisorPhysical: 26))
    #expect(machine.psci == .hvc)
    #expect(machine.bootargs == "console=ttyAMA0 earlycon")

    let tree = try FDT(parsing: blob)
    let root = tree.root
    #expect(root.addressCells == 2 && root.sizeCells == 2)
    #expect(root.property("compatible")?.string == "linux,dummy-virt")
    #expect(root.property("model")?.string == "Keel virtual machine")
    let gicNode = try #require(tree.nodes(compatibleWith: "arm,gic-v3").first?.node)
    #expect(root.property("interrupt-parent")?.u32 == gicNode.phandle)
    #expect(gicNode.hasProperty("interrupt-controller"))
    #expect(gicNode.property("#interrupt-cells")?.u32 == 3)
    #expect(gicNode.property("#redistributor-regions")?.u32 == 1)
    #expect(tree.nodes(compatibleWith: "arm,gic-v3-its").isEmpty)
    let cpu = try #require(tree.node(atPath: "/cpus/cpu@1"))
    #expect(cpu.deviceType == "cpu")
    #expect(cpu.compatible == ["arm,armv8"])
    #expect(cpu.property("enable-method")?.string == "psci")
    #expect(tree.node(atPath: "/cpus")?.sizeCells == 0)
    #expect(tree.node(atPath: "/psci")?.compatible == ["arm,psci-1.0", "arm,psci-0.2"])
    let timer = try #require(tree.node(atPath: "/timer"))
    #expect(timer.property("interrupts")?.cells == [1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4])
    #expect(timer.hasProperty("always-on"))
    let uart = try #require(tree.node(atPath: "/pl011@9000000"))
    #expect(uart.compatible == ["arm,pl011", "arm,primecell"])
    #expect(uart.property("interrupts")?.cells == [0, 1, 4])
    let clock = try #require(tree.node(atPath: "/apb-pclk"))
    let clockPhandle = try #require(clock.phandle)
    #expect(uart.property("clocks")?.cells == [clockPhandle, clockPhandle])
    #expect(uart.property("clock-names")?.strings == ["uartclk", "apb_pclk"])
    #expect(clock.compatible == ["fixed-clock"])
    #expect(clock.property("#clock-cells")?.u32 == 0)
    #expect(clock.property("clock-frequency")?.u32 == 24_000_000)
    #expect(clock.property("clock-output-names")?.string == "clk24mhz")
    #expect(tree.node(atPath: "/aliases")?.property("serial0")?.string == "/pl011@9000000")
    let chosen = try #require(tree.node(atPath: "/chosen"))
    #expect(chosen.property("stdout-path")?.string == "/pl011@9000000")
    #expect(chosen.property("linux,initrd-start")?.u64 == 0x4800_0000)
    #expect(chosen.property("linux,initrd-end")?.u64 == 0x4812_3456)
    #expect(tree.node(atPath: "/hypervisor") == nil)
  }

  @Test func gicv2GuestWithMSIFrame() throws {
    var platform = GuestBoard(cpuCount: 4, memory: Self.ram, gicVersion: .v2)
    platform.gicv2mFrame = .init(region: MemoryRegion(0x802_0000, 0x1000), baseSPI: 64, spiCount: 32)
    let blob = platform.deviceTree()
    let machine = try MachineDescription(dtb: blob)
    let gic = try #require(machine.gic)
    #expect(gic.version == .v2)
    #expect(gic.distributor == MemoryRegion(0x800_0000, 0x1000))
    #expect(gic.cpuInterface == MemoryRegion(0x801_0000, 0x2000))
    #expect(gic.hypervisorInterface == nil)
    #expect(gic.msiFrames == [MemoryRegion(0x802_0000, 0x1000)])
    #expect(machine.cpus == [0, 1, 2, 3])
    #expect(machine.timer?.virtual == 27)
    let tree = try FDT(parsing: blob)
    let frame = try #require(tree.nodes(compatibleWith: "arm,gic-v2m-frame").first?.node)
    #expect(frame.property("arm,msi-base-spi")?.u32 == 64)
    #expect(frame.property("arm,msi-num-spis")?.u32 == 32)
    // Four CPUs: target mask 0b1111 in flags bits 15:8.
    #expect(tree.node(atPath: "/timer")?.property("interrupts")?.cells?[2] == 0xF04)
    #expect(tree.node(atPath: "/chosen")?.hasProperty("linux,initrd-start") == false)
  }

  @Test func parametersOverrideDefaults() throws {
    var platform = GuestBoard(cpuAffinities: [0x0, 0x100, 0x1_0000_0000], memory: MemoryRegion(0x8000_0000, 0x4000_0000))
    platform.uartBase = 0x1c09_0000
    platform.uartSPI = 5
    platform.gicDistributor = MemoryRegion(0x2f00_0000, 0x10000)
    platform.gicRedistributorBase = 0x2f10_0000
    platform.hypervisorCompatible = "vmware"
    platform.model = "other"
    let blob = platform.deviceTree()
    let machine = try MachineDescription(dtb: blob)
    #expect(machine.cpus == [0x0, 0x100, 0x1_0000_0000])
    #expect(machine.uart == HostUART(base: 0x1c09_0000, size: 0x1000, intid: 37, path: "/pl011@1c090000"))
    #expect(machine.gic?.distributor == MemoryRegion(0x2f00_0000, 0x10000))
    #expect(machine.gic?.redistributors == [MemoryRegion(0x2f10_0000, 0x60000)])
    let tree = try FDT(parsing: blob)
    #expect(tree.node(atPath: "/hypervisor")?.compatible == ["vmware"])
    #expect(tree.root.property("model")?.string == "other")
    #expect(tree.node(atPath: "/cpus")?.addressCells == 2)
    #expect(tree.node(atPath: "/cpus/cpu@100000000") != nil)
    #expect(tree.node(atPath: "/aliases")?.property("serial0")?.string == "/pl011@1c090000")
  }

  @Test func powerButtonIsAPL061WithGPIOKeysAsOnQEMUVirt() throws {
    let platform = GuestBoard(cpuCount: 1, memory: Self.ram)
    #expect(platform.powerButton)
    let tree = try FDT(parsing: platform.deviceTree())
    let located = try #require(tree.nodes(compatibleWith: "arm,pl061").first)
    #expect(located.path == "/pl061@9030000")
    let gpio = located.node
    #expect(gpio.compatible == ["arm,pl061", "arm,primecell"])
    #expect(gpio.property("reg")?.regions(addressCells: 2, sizeCells: 2) == [MemoryRegion(0x903_0000, 0x1000)])
    #expect(gpio.property("interrupts")?.cells == [0, 7, 4])  // SPI 7 = INTID 39, level high
    let clock = try #require(tree.node(atPath: "/apb-pclk")?.phandle)
    #expect(gpio.property("clocks")?.cells == [clock])
    #expect(gpio.property("clock-names")?.strings == ["apb_pclk"])
    #expect(gpio.hasProperty("gpio-controller") && gpio.hasProperty("interrupt-controller"))
    #expect(gpio.property("#gpio-cells")?.u32 == 2)
    #expect(gpio.property("#interrupt-cells")?.u32 == 2)
    #expect(gpio.property("#address-cells")?.u32 == 0)
    let phandle = try #require(gpio.phandle)
    #expect(Set([phandle, clock, tree.root.property("interrupt-parent")?.u32 ?? 0]).count == 3)

    let keys = try #require(tree.node(atPath: "/gpio-keys"))
    #expect(keys.compatible == ["gpio-keys"])
    let key = try #require(tree.node(atPath: "/gpio-keys/poweroff"))
    #expect(key.property("label")?.string == "GPIO Key Poweroff")
    #expect(key.property("linux,code")?.u32 == 116)
    #expect(key.property("gpios")?.cells == [phandle, 3, 0])
    #expect(tree.node(withPhandle: phandle)?.path == "/pl061@9030000")
  }

  @Test func powerButtonFollowsItsParametersAndCanBeLeftOut() throws {
    var platform = GuestBoard(cpuCount: 1, memory: Self.ram, gicVersion: .v2)
    platform.gpioBase = 0x1c0a_0000
    platform.gpioSPI = 9
    platform.powerButtonLine = 5
    var tree = try FDT(parsing: platform.deviceTree())
    let gpio = try #require(tree.node(atPath: "/pl061@1c0a0000"))
    #expect(gpio.property("interrupts")?.cells == [0, 9, 4])
    #expect(tree.node(atPath: "/gpio-keys/poweroff")?.property("gpios")?.cells == [try #require(gpio.phandle), 5, 0])

    platform.powerButton = false
    tree = try FDT(parsing: platform.deviceTree())
    #expect(tree.nodes(compatibleWith: "arm,pl061").isEmpty)
    #expect(tree.node(atPath: "/gpio-keys") == nil)
    #expect(tree.node(atPath: "/pl011@9000000") != nil)
  }

  /// The RTC and the PMU, as QEMU virt describes them (rtc-pl031 and the armv8 PMU driver bind to these).
  @Test(arguments: [GICVersion.v3, .v2]) func rtcAndPMUNodesAsOnQEMUVirt(version: GICVersion) throws {
    var board = GuestBoard(cpuCount: 2, memory: Self.ram, gicVersion: version)
    board.pmuPPI = 7
    let tree = try FDT(parsing: board.deviceTree())
    let rtc = try #require(tree.nodes(compatibleWith: "arm,pl031").first?.node)
    #expect(rtc.property("compatible")?.strings == ["arm,pl031", "arm,primecell"])
    #expect(rtc.property("interrupts")?.cells == [0, 2, 4])
    #expect(rtc.property("clock-names")?.string == "apb_pclk")
    let pmu = try #require(tree.nodes(compatibleWith: "arm,armv8-pmuv3").first?.node)
    #expect(pmu.property("interrupts")?.cells == [1, 7, version == .v2 ? 0x304 : 4])
    board.pmuPPI = nil
    board.rtc = nil
    let bare = try FDT(parsing: board.deviceTree())
    #expect(bare.nodes(compatibleWith: "arm,armv8-pmuv3").isEmpty && bare.nodes(compatibleWith: "arm,pl031").isEmpty)
  }

  @Test func everyCPUOffersThePSCIStandbyIdleState() throws {
    var platform = GuestBoard(cpuCount: 2, memory: Self.ram)
    var tree = try FDT(parsing: platform.deviceTree())
    let states = try #require(tree.node(atPath: "/cpus/idle-states"))
    #expect(states.property("entry-method")?.string == "psci")
    let standby = try #require(tree.node(atPath: "/cpus/idle-states/cpu-standby"))
    #expect(standby.compatible == ["arm,idle-state"])
    // Original power_state format: StateType 0 (standby, no context lost), so no local-timer-stop.
    #expect(standby.property("arm,psci-suspend-param")?.u32 == 1)
    #expect(!standby.hasProperty("local-timer-stop"))
    #expect(standby.property("min-residency-us")?.u32 == 20000)
    let phandle = try #require(standby.phandle)
    for cpu in ["cpu@0", "cpu@1"] {
      #expect(tree.node(atPath: "/cpus/" + cpu)?.property("cpu-idle-states")?.cells == [phandle])
    }
    platform.idleState = nil
    tree = try FDT(parsing: platform.deviceTree())
    #expect(tree.node(atPath: "/cpus/idle-states") == nil)
    #expect(tree.node(atPath: "/cpus/cpu@0")?.hasProperty("cpu-idle-states") == false)
  }

  @Test(arguments: [GICVersion.v3, .v2])
  func dtcAcceptsGuestTreeWithoutWarnings(version: GICVersion) throws {
    try #require(DTC.isAvailable, "dtc is missing: apt-get install device-tree-compiler (scripts/test.sh does)")
    var platform = GuestBoard(cpuCount: 2, memory: Self.ram, gicVersion: version)
    platform.initrd = MemoryRegion(0x4800_0000, 0x1000)
    platform.hypervisorCompatible = "vmware"
    if version == .v2 { platform.gicv2mFrame = .init(region: MemoryRegion(0x802_0000, 0x1000)) }
    let out = try DTC.decompile(platform.deviceTree())
    #expect(out.status == 0)
    #expect(out.diagnostics.isEmpty, "\(out.diagnostics)")
  }
}

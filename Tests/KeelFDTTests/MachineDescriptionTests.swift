import Testing
import KeelFDT

// Expected values were read from `dtc -I dtb -O dts` of each fixture (see Fixtures/README.txt).
@Suite struct MachineDescriptionTests {
  @Test func qemuVirtGICv3ReadInPlaceLikeEL2() throws {
    let blob = try Fixture.bytes("virt-gicv3.dtb")
    // Simulate EL2: a raw pointer to the blob, header first, then exactly totalsize bytes.
    let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: blob.count + 4096, alignment: 8)
    defer { memory.deallocate() }
    memory.copyBytes(from: blob)
    let header = try FDTHeader(UnsafeRawBufferPointer(start: memory.baseAddress, count: 40))
    let machine = try MachineDescription(dtb: UnsafeRawBufferPointer(start: memory.baseAddress, count: Int(header.totalSize)))

    #expect(machine.memory == [MemoryRegion(0x4000_0000, 0x4000_0000)])
    #expect(machine.memory.first?.end == 0x8000_0000)
    #expect(machine.cpus == [0, 1])
    let gic = try #require(machine.gic)
    #expect(gic.version == .v3)
    #expect(gic.distributor == MemoryRegion(0x800_0000, 0x10000))
    #expect(gic.redistributors == [MemoryRegion(0x80a_0000, 0xf6_0000)])
    #expect(gic.cpuInterface == nil && gic.hypervisorInterface == nil && gic.virtualCPUInterface == nil)
    #expect(gic.maintenanceINTID == 25)
    #expect(gic.msiFrames.isEmpty)
    #expect(gic.itsFrames == [MemoryRegion(0x808_0000, 0x20000)])
    #expect(machine.uart == HostUART(base: 0x900_0000, size: 0x1000, intid: 33, path: "/pl011@9000000"))
    #expect(machine.timer == TimerINTIDs(securePhysical: 29, nonSecurePhysical: 30, virtual: 27, hypervisorPhysical: 26))
    #expect(machine.psci == .smc)
    #expect(machine.bootargs == "")
    #expect(machine.modules.isEmpty)
    #expect(machine.reserved.isEmpty)
  }

  @Test func qemuVirtGICv2() throws {
    let machine = try MachineDescription(dtb: try Fixture.bytes("virt-gicv2.dtb"))
    let gic = try #require(machine.gic)
    #expect(gic.version == .v2)
    #expect(gic.distributor == MemoryRegion(0x800_0000, 0x10000))
    #expect(gic.cpuInterface == MemoryRegion(0x801_0000, 0x10000))
    #expect(gic.hypervisorInterface == MemoryRegion(0x803_0000, 0x10000))
    #expect(gic.virtualCPUInterface == MemoryRegion(0x804_0000, 0x10000))
    #expect(gic.redistributors.isEmpty)
    #expect(gic.maintenanceINTID == 25)
    #expect(gic.msiFrames == [MemoryRegion(0x802_0000, 0x1000)])
    #expect(machine.cpus == [0, 1])
    #expect(machine.uart?.intid == 33)
  }

  @Test func qemuGuestLoaderModules() throws {
    let machine = try MachineDescription(dtb: try Fixture.bytes("virt-guest-loader.dtb"))
    // QEMU adds nodes to the front of /chosen, so the later -device comes first.
    #expect(machine.modules == [
      GuestModule(kind: .ramdisk, region: MemoryRegion(0x4600_0000, 3000)),
      GuestModule(kind: .kernel, region: MemoryRegion(0x4400_0000, 34), bootargs: Array("console=ttyAMA0 quiet".utf8)),
    ])
    #expect(machine.cpus == [0, 1, 2, 3])
    #expect(machine.memory == [MemoryRegion(0x4000_0000, 0x8000_0000)])
  }

  @Test func edgeCases() throws {
    let machine = try MachineDescription(dtb: try Fixture.bytes("edge.dtb"))
    #expect(machine.memory == [MemoryRegion(0x8000_0000, 0x4000_0000), MemoryRegion(0x8_8000_0000, 0x8000_0000),
                               MemoryRegion(0x9_0000_0000, 0x1000_0000)])
    #expect(machine.cpus == [0, 0x1_0000_0101])
    let gic = try #require(machine.gic)
    #expect(gic.version == .v2)
    #expect(gic.distributor == MemoryRegion(0x2c00_1000, 0x1000))
    #expect(gic.cpuInterface == MemoryRegion(0x2c00_2000, 0x2000))
    #expect(gic.hypervisorInterface == MemoryRegion(0x2c00_4000, 0x2000))
    #expect(gic.virtualCPUInterface == MemoryRegion(0x2c00_6000, 0x2000))
    #expect(gic.maintenanceINTID == 25)
    #expect(gic.msiFrames == [MemoryRegion(0x2c1c_0000, 0x1000)])   // the disabled frame is skipped
    // stdout-path = "serial0:115200n8" names the second UART through /aliases.
    #expect(machine.uart == HostUART(base: 0x1c0a_0000, size: 0x1000, intid: 38, path: "/uart@1c0a0000"))
    #expect(machine.timer == TimerINTIDs(securePhysical: 29, nonSecurePhysical: 30, virtual: 27,
                                         hypervisorPhysical: 26, hypervisorVirtual: 28))
    #expect(machine.psci == .hvc)
    #expect(machine.bootargs == "earlycon root=/dev/vda")
    #expect(machine.modules == [
      GuestModule(kind: .kernel, region: MemoryRegion(0x8000_0000, 0x100_0000), bootargs: Array("console=hvc0".utf8)),
      GuestModule(kind: .other, region: MemoryRegion(0x8200_0000, 0x4000)),
    ])
    #expect(machine.reserved == [MemoryRegion(0x4800_0000, 0x10_0000), MemoryRegion(0x4f00_0000, 0x2000),
                                 MemoryRegion(0x8100_0000, 0x20_0000)])
  }

  static func tree(_ build: (inout FDTWriter) -> Void) throws -> [UInt8] {
    var w = FDTWriter()
    w.beginNode("")
    w.property("#address-cells", u32: 2)
    w.property("#size-cells", u32: 2)
    build(&w)
    w.endNode()
    return w.finish()
  }

  @Test func multipleRedistributorRegionsAndOptionalV3Interfaces() throws {
    let blob = try Self.tree { w in
      w.beginNode("gic@1000")
      w.property("compatible", string: "arm,gic-v3")
      w.property("#interrupt-cells", u32: 3)
      w.property("#redistributor-regions", u32: 2)
      w.property("reg", regions: [MemoryRegion(0x1000, 0x10000), MemoryRegion(0x100000, 0x40000),
                                  MemoryRegion(0x200000, 0x20000), MemoryRegion(0x300000, 0x2000),
                                  MemoryRegion(0x310000, 0x2000), MemoryRegion(0x320000, 0x2000)],
                 addressCells: 2, sizeCells: 2)
      w.endNode()
    }
    let gic = try #require(try MachineDescription(dtb: blob).gic)
    #expect(gic.redistributors == [MemoryRegion(0x100000, 0x40000), MemoryRegion(0x200000, 0x20000)])
    #expect(gic.cpuInterface == MemoryRegion(0x300000, 0x2000))
    #expect(gic.hypervisorInterface == MemoryRegion(0x310000, 0x2000))
    #expect(gic.virtualCPUInterface == MemoryRegion(0x320000, 0x2000))
    #expect(gic.maintenanceINTID == nil)
  }

  @Test func missingOrShortPropertiesThrow() throws {
    let shortGIC = try Self.tree { w in
      w.beginNode("gic@1000")
      w.property("compatible", string: "arm,gic-v3")
      w.property("reg", regions: [MemoryRegion(0x1000, 0x10000)], addressCells: 2, sizeCells: 2)
      w.endNode()
    }
    #expect(throws: FDTError.malformedProperty(node: "/gic@1000", property: "reg")) {
      try MachineDescription(dtb: shortGIC)
    }
    let badMemory = try Self.tree { w in
      w.beginNode("memory@0")
      w.property("device_type", string: "memory")
      w.property("reg", cells: [0, 0, 1])
      w.endNode()
    }
    #expect(throws: FDTError.malformedProperty(node: "/memory@0", property: "reg")) {
      try MachineDescription(dtb: badMemory)
    }
    let shortTimer = try Self.tree { w in
      w.beginNode("timer")
      w.property("compatible", string: "arm,armv8-timer")
      w.property("interrupts", cells: [1, 13, 4])
      w.endNode()
    }
    #expect(throws: FDTError.malformedProperty(node: "/timer", property: "interrupts")) {
      try MachineDescription(dtb: shortTimer)
    }
    let noMethod = try Self.tree { w in
      w.beginNode("psci")
      w.property("compatible", string: "arm,psci-0.2")
      w.endNode()
    }
    #expect(throws: FDTError.missingProperty(node: "/psci", property: "method")) {
      try MachineDescription(dtb: noMethod)
    }
  }

  @Test func emptyTreeDescribesNothing() throws {
    let machine = try MachineDescription(dtb: try Self.tree { _ in })
    #expect(machine.memory.isEmpty && machine.cpus.isEmpty && machine.modules.isEmpty && machine.reserved.isEmpty)
    #expect(machine.gic == nil && machine.uart == nil && machine.timer == nil && machine.psci == nil)
    #expect(machine.bootargs == "")
  }
}

import Testing
import KeelArch
import KeelFDT
import KeelLoader
import KeelVM

@Suite struct MachineDefinitionTests {
  static let kernel = GuestModule(kind: .kernel, region: MemoryRegion(base: 0x4800_0000, size: 0x1000))

  func definition(_ bootargs: String, modules: [GuestModule], config: String = "") throws -> MachineDefinition {
    let text = Array(config.utf8) + [0]
    return try text.withUnsafeBytes { bytes in
      try BootArguments.machineDefinition(bootargs, modules: modules) { address in
        #expect(address == 0x4900_0000)
        return bytes
      }
    }
  }

  @Test func legacyBootsOneVM() throws {
    let machine = try definition("keel.cpus=2", modules: [Self.kernel])
    #expect(machine.vms.count == 1)
    #expect(machine.vms[0].cpus == 2)
    #expect(machine.vms[0].kernelModule == 0x4800_0000)
  }

  @Test func noKernelAndNoVMAreErrors() {
    #expect(throws: MachineDefinitionError.noKernel) { try definition("quiet", modules: []) }
    #expect(throws: MachineDefinitionError.noVM(configurationAt: 0x4900_0000)) {
      try definition("keel.config=0x49000000", modules: [], config: "")
    }
    #expect(MachineDefinitionError.noKernel.description == "no guest kernel: pass one with -device guest-loader,kernel=...")
    #expect(MachineDefinitionError.noVM(configurationAt: 0x4900_0000).description == "configuration at 0x49000000 defines no VM")
  }

  @Test func aBadConfigurationSaysWhere() {
    do {
      _ = try definition("keel.config=0x49000000", modules: [], config: "frobnicate\n")
      Issue.record("accepted")
    } catch {
      guard let error = error as? MachineDefinitionError, case .configuration(let address, _) = error else {
        Issue.record("\(error)")
        return
      }
      #expect(address == 0x4900_0000)
      #expect(error.description.hasPrefix("configuration at 0x49000000: configuration line 1"))
    }
  }
}

@Suite struct VMStartTests {
  static let kernelBytes = [UInt8](repeating: 0xAA, count: 0x100)
  static let kernel = GuestModule(kind: .kernel, region: MemoryRegion(base: 0x4800_0000, size: 0x100), bootargs: Array("console=hvc0".utf8))
  static let initrd = GuestModule(kind: .ramdisk, region: MemoryRegion(base: 0x4900_0000, size: 0x2000))

  func vm(initrd: UInt64? = nil) -> VMDefinition {
    var def = VMDefinition(name: Array("web".utf8))
    def.cpus = 2
    def.memoryMiB = 64
    def.kernelModule = 0x4800_0000
    def.initrdModule = initrd
    def.loadAddress = 0x4008_0000   // a raw binary
    return def
  }

  func prepare(_ def: VMDefinition, modules: [GuestModule]) throws -> (plan: VMPlan, image: BootImage) {
    try Self.kernelBytes.withUnsafeBytes { bytes in
      try VMPlan.prepare(def, modules: modules, gicVersion: .v3, hostCounterHz: 62_500_000, pmu: true) { module in
        #expect(module == Self.kernel)
        return bytes
      }
    }
  }

  @Test func modulesAreFoundByAddress() {
    #expect(VMPlan.module(at: 0x4900_0000, in: [Self.kernel, Self.initrd]) == Self.initrd)
    #expect(VMPlan.module(at: 0x4A00_0000, in: [Self.kernel, Self.initrd]) == nil)
    #expect(VMPlan.module(at: nil, in: [Self.kernel]) == nil)
  }

  @Test func missingModulesAndBadImagesAreRefusedWithAReason() {
    var def = vm()
    def.kernelModule = 0x4A00_0000
    #expect(throws: VMStartError.noKernelModule(at: 0x4A00_0000)) { try prepare(def, modules: [Self.kernel]) }
    #expect(throws: VMStartError.noInitrdModule(at: 0x4B00_0000)) { try prepare(vm(initrd: 0x4B00_0000), modules: [Self.kernel]) }
    def = vm()
    def.loadAddress = nil
    #expect(throws: VMStartError.imageRejected(.unrecognizedFormat)) { try prepare(def, modules: [Self.kernel]) }
    #expect(VMStartError.noKernelModule(at: nil).description == "no kernel module at 0x0")
    #expect(VMStartError.noInitrdModule(at: 0x4B00_0000).description == "no initrd module at 0x4b000000")
    #expect(VMStartError.noHostMemory(mebibytes: 64).description == "64 MiB of guest RAM do not fit in host memory")
    #expect(VMStartError.imageRejected(.emptyImage).description == "guest image rejected: " + GuestImageError.emptyImage.description)
  }

  @Test func theBootImageCopiesKernelThenInitrd() throws {
    let (plan, image) = try prepare(vm(initrd: 0x4900_0000), modules: [Self.kernel, Self.initrd])
    #expect(plan.board.bootargs == "console=hvc0")
    #expect(image.kernel == Self.kernel && image.initrd == Self.initrd)
    #expect(image.dtb == plan.board.deviceTree())
    let initrdAt = try #require(plan.layout.initrdAddress)
    #expect(image.copies == [
      BootImage.Copy(guestAddress: 0x4008_0000, source: 0x4800_0000, length: 0x100, zeroFill: 0, isCode: true),
      BootImage.Copy(guestAddress: initrdAt, source: 0x4900_0000, length: 0x2000, zeroFill: 0, isCode: false),
    ])
  }

  @Test func segmentsAreCopiedFromTheirFileOffsetAndZeroFilled() throws {
    let segments = [GuestLoadSegment(fileOffset: 0x40, fileSize: 0x20, guestAddress: 0x4010_0000, memorySize: 0x1000)]
    let plan = GuestImagePlan(format: .elf, segments: segments, entry: 0x4010_0000, lowestAddress: 0x4010_0000, endAddress: 0x4010_1000)
    let layout = GuestBootLayout(dtbAddress: 0x4020_0000, initrdAddress: nil, initrdSize: 0)
    let image = BootImage(plan: plan, layout: layout, kernel: Self.kernel, initrd: Self.initrd, dtb: [])
    #expect(image.copies == [BootImage.Copy(guestAddress: 0x4010_0000, source: 0x4800_0040, length: 0x20, zeroFill: 0xFE0, isCode: true)])
  }

  @Test func theSummaryLine() throws {
    var def = vm(initrd: 0x4900_0000)
    let (plan, image) = try prepare(def, modules: [Self.kernel, Self.initrd])
    let dtb = "0x" + String(plan.layout.dtbAddress, radix: 16)
    #expect(plan.summary(def, name: "web", hostBase: 0x5000_0000, counterHz: 62_500_000, initrd: image.initrd)
      == "web: 2 vCPUs, 64 MiB at host 0x50000000, raw binary entry 0x40080000, DTB \(dtb), initrd 8192 bytes")
    def.timeMode = .trapped
    #expect(plan.summary(def, name: "web", hostBase: 0x5000_0000, counterHz: 1_000_000, initrd: GuestModule?.none)
      == "web: 2 vCPUs, 64 MiB at host 0x50000000, raw binary entry 0x40080000, DTB \(dtb), trapped physical counter at 1000000 Hz")
  }
}

import Testing
import KeelFDT
import KeelVM

@Suite struct BootArgumentsTests {
  static let kernel = GuestModule(kind: .kernel, region: MemoryRegion(base: 0x4800_0000, size: 0x100_0000))
  static let kernel2 = GuestModule(kind: .kernel, region: MemoryRegion(base: 0x4A00_0000, size: 0x100_0000))
  static let ramdisk = GuestModule(kind: .ramdisk, region: MemoryRegion(base: 0x4900_0000, size: 0x80_0000))
  static let other = GuestModule(kind: .other, region: MemoryRegion(base: 0x4B00_0000, size: 0x1000))

  func legacy(_ body: (inout VMDefinition) -> Void) -> BootChoice {
    var d = VMDefinition(name: Array("vm0".utf8))
    d.kernelModule = 0x4800_0000
    body(&d)
    return .legacy(d)
  }

  @Test func configurationModule() {
    #expect(BootArguments.parse("keel.config=0x48000000", modules: []) == .configurationModule(address: 0x4800_0000))
    #expect(BootArguments.parse("console=ttyAMA0 keel.config=1207959552 quiet", modules: [Self.kernel])
      == .configurationModule(address: 0x4800_0000))
    // It wins over legacy settings before or after it, and the first valid one counts.
    #expect(BootArguments.parse("keel.cpus=2 keel.config=0x1000 keel.memory=64 keel.config=0x2000", modules: [Self.kernel])
      == .configurationModule(address: 0x1000))
  }

  @Test func malformedConfigurationAddressIsIgnored() {
    #expect(BootArguments.parse("keel.config=0xZZ", modules: [Self.kernel]) == legacy { _ in })
    #expect(BootArguments.parse("keel.config=", modules: []) == .noKernel)
    #expect(BootArguments.parse("keel.config=0x", modules: []) == .noKernel)
    #expect(BootArguments.parse("keel.config=0x1_0000", modules: []) == .noKernel)
    #expect(BootArguments.parse("keel.config=0x10000000000000000", modules: []) == .noKernel)
    #expect(BootArguments.parse("keel.config=-1", modules: []) == .noKernel)
    #expect(BootArguments.parse("keel.config=0xbadz keel.config=0x4000", modules: []) == .configurationModule(address: 0x4000))
    // Only a space separates words; the key must match exactly.
    #expect(BootArguments.parse("keel.config\t=0x1000", modules: []) == .noKernel)
    #expect(BootArguments.parse("Keel.config=0x1000", modules: []) == .noKernel)
    #expect(BootArguments.parse("xkeel.config=0x1000", modules: []) == .noKernel)
  }

  @Test func legacySettings() {
    #expect(BootArguments.parse("", modules: [Self.kernel]) == legacy { _ in })
    #expect(BootArguments.parse("keel.cpus=4 keel.memory=0x200 keel.load=0x40080000", modules: [Self.kernel, Self.ramdisk])
      == legacy { d in d.cpus = 4; d.memoryMiB = 512; d.loadAddress = 0x4008_0000; d.initrdModule = 0x4900_0000 })
    // Several spaces between words; the last value of a key wins.
    #expect(BootArguments.parse("  keel.cpus=2   keel.cpus=3  ", modules: [Self.kernel]) == legacy { $0.cpus = 3 })
    // Not range-checked here.
    #expect(BootArguments.parse("keel.cpus=0 keel.memory=1", modules: [Self.kernel]) == legacy { d in d.cpus = 0; d.memoryMiB = 1 })
  }

  @Test func malformedLegacyNumbers() {
    // Malformed cpus and memory leave the defaults (or the earlier value).
    #expect(BootArguments.parse("keel.cpus=two keel.memory=1G", modules: [Self.kernel]) == legacy { _ in })
    #expect(BootArguments.parse("keel.cpus=3 keel.cpus=x", modules: [Self.kernel]) == legacy { $0.cpus = 3 })
    #expect(BootArguments.parse("keel.cpus=0xFFFFFFFFFFFFFFFF", modules: [Self.kernel]) == legacy { _ in })
    #expect(BootArguments.parse("keel.memory=99999999999999999999", modules: [Self.kernel]) == legacy { _ in })
    // A malformed load address clears an earlier one.
    #expect(BootArguments.parse("keel.load=0x40080000 keel.load=nowhere", modules: [Self.kernel]) == legacy { _ in })
    // `key=` has no value and is skipped, so it does not clear the load address.
    #expect(BootArguments.parse("keel.load=0x40080000 keel.load=", modules: [Self.kernel]) == legacy { $0.loadAddress = 0x4008_0000 })
  }

  @Test func malformedWords() {
    // No `=`, or nothing before it: skipped. Leading `=`s are dropped, as String.split does.
    #expect(BootArguments.parse("keel.cpus 4 = =4 keel.cpus", modules: [Self.kernel]) == legacy { _ in })
    #expect(BootArguments.parse("=keel.cpus=4", modules: [Self.kernel]) == legacy { $0.cpus = 4 })
    // Only the first `=` splits: the value `=4` is malformed.
    #expect(BootArguments.parse("keel.cpus==4", modules: [Self.kernel]) == legacy { _ in })
    #expect(BootArguments.parse("keel.load=0x1000=0x2000", modules: [Self.kernel]) == legacy { _ in })
  }

  @Test func modules() {
    // The first kernel and the first ramdisk, in module order; other modules are ignored.
    #expect(BootArguments.parse("", modules: [Self.other, Self.ramdisk, Self.kernel2, Self.kernel])
      == legacy { d in d.kernelModule = 0x4A00_0000; d.initrdModule = 0x4900_0000 })
    #expect(BootArguments.parse("keel.cpus=2", modules: [Self.ramdisk, Self.other]) == .noKernel)
    #expect(BootArguments.parse("", modules: []) == .noKernel)
  }
}

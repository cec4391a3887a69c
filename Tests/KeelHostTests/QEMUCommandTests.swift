import Testing
@testable import KeelHost

@Suite struct QEMUCommandTests {
  func value(after flag: String, in args: [String]) -> String? {
    guard let index = args.firstIndex(of: flag), index + 1 < args.count else { return nil }
    return args[index + 1]
  }

  func values(after flag: String, in args: [String]) -> [String] {
    args.indices.filter { args[$0] == flag && $0 + 1 < args.count }.map { args[$0 + 1] }
  }

  @Test func hostLayoutRoundsBlobsTo2MiB() {
    let layout = HostLayout(kernelSize: 3 << 20 + 1, initrdSize: 1, guestMemoryMiB: 256)
    #expect(layout.kernelAddress == 0x4400_0000)
    #expect(layout.initrdAddress == 0x4400_0000 + 4 << 20)
    // 64 (hypervisor) + 4 (kernel) + 2 (initrd) + 256 (guest) + 64 (slack)
    #expect(layout.hostMemoryMiB == 64 + 4 + 2 + 256 + 64)
    #expect(HostLayout(kernelSize: 2 << 20, initrdSize: nil, guestMemoryMiB: 16).initrdAddress == nil)
    #expect(HostLayout(kernelSize: 2 << 20, initrdSize: nil, guestMemoryMiB: 16).hostMemoryMiB == 64 + 2 + 16 + 64)
  }

  @Test func keelCommand() {
    let options = RunOptions(append: "keel.test=smoke", cpus: 2, memoryMiB: 256, gic: 2, hostCPUs: 4)
    let layout = HostLayout(kernelSize: 5 << 20, initrdSize: 3 << 20, guestMemoryMiB: 256)
    let args = QEMUCommand.keel(hypervisor: "/h.elf", kernel: "/k", initrd: "/i", layout: layout, options: options).arguments
    #expect(value(after: "-M", in: args) == "virt,virtualization=on,gic-version=2,its=off")
    #expect(value(after: "-cpu", in: args) == "cortex-a72")
    #expect(value(after: "-smp", in: args) == "4")
    #expect(value(after: "-m", in: args) == String(layout.hostMemoryMiB))
    #expect(value(after: "-kernel", in: args) == "/h.elf")
    #expect(value(after: "-append", in: args) == "keel.cpus=2 keel.memory=256")
    #expect(value(after: "-serial", in: args) == "stdio")
    #expect(value(after: "-display", in: args) == "none")
    #expect(value(after: "-monitor", in: args) == "none")
    #expect(args.contains("-no-reboot"))
    #expect(!args.contains("-icount"))
    #expect(values(after: "-device", in: args) == [
      "guest-loader,addr=0x44000000,kernel=/k,bootargs=console=ttyAMA0 panic=-1 keel.test=smoke",
      "guest-loader,addr=0x\(String(0x4400_0000 + 6 << 20, radix: 16)),initrd=/i",
    ])
  }

  @Test func keelCommandPassesLoadAddressAndDeterminism() {
    let options = RunOptions(loadAddress: 0x4008_0000, deterministic: true)
    let layout = HostLayout(kernelSize: 4096, initrdSize: nil, guestMemoryMiB: 512)
    let args = QEMUCommand.keel(hypervisor: "/h", kernel: "/k", initrd: nil, layout: layout, options: options).arguments
    #expect(value(after: "-append", in: args) == "keel.cpus=1 keel.memory=512 keel.load=0x40080000")
    #expect(value(after: "-M", in: args) == "virt,virtualization=on,gic-version=3,its=off,dtb-randomness=off")
    #expect(value(after: "-icount", in: args) == "shift=0,sleep=off")
    #expect(value(after: "-rtc", in: args) == "base=2024-01-01T00:00:00,clock=vm")
    #expect(values(after: "-device", in: args).count == 1)
    #expect(value(after: "-smp", in: args) == "1")
  }

  @Test func commasInDevicePropertiesAreDoubled() {
    let options = RunOptions(append: "a=1,2")
    let layout = HostLayout(kernelSize: 4096, initrdSize: nil, guestMemoryMiB: 64)
    let args = QEMUCommand.keel(hypervisor: "/h", kernel: "/dir,x/k", initrd: nil, layout: layout, options: options).arguments
    #expect(values(after: "-device", in: args) == ["guest-loader,addr=0x44000000,kernel=/dir,,x/k,bootargs=console=ttyAMA0 panic=-1 a=1,,2"])
  }

  @Test func bareCommand() {
    let options = RunOptions(append: "  quiet ", cpus: 2, memoryMiB: 300, gic: 3, hostCPUs: 8, deterministic: true, bare: true)
    let args = QEMUCommand.bare(kernel: "/k", initrd: "/i", options: options).arguments
    #expect(value(after: "-M", in: args) == "virt,gic-version=3,its=off,dtb-randomness=off")
    #expect(value(after: "-smp", in: args) == "2")
    #expect(value(after: "-m", in: args) == "300")
    #expect(value(after: "-kernel", in: args) == "/k")
    #expect(value(after: "-initrd", in: args) == "/i")
    #expect(value(after: "-append", in: args) == "console=ttyAMA0 panic=-1 quiet")
    #expect(!args.contains("-device"))
  }

  @Test func guestCommandLine() {
    #expect(QEMUCommand.guestCommandLine(append: nil) == "console=ttyAMA0 panic=-1")
    #expect(QEMUCommand.guestCommandLine(append: "") == "console=ttyAMA0 panic=-1")
    #expect(QEMUCommand.guestCommandLine(append: "keel.test=panic") == "console=ttyAMA0 panic=-1 keel.test=panic")
  }
}

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

  func boot(_ name: String, kernel: String = "/k", initrd: String? = nil, kernelSize: UInt64 = 4096, initrdSize: UInt64? = nil,
            memoryMiB: Int = 512, append: String? = nil, linux: Bool = true) -> BootVM {
    BootVM(configuration: VMConfiguration(name: name, memoryMiB: memoryMiB, commandLine: append),
           kernelPath: kernel, initrdPath: initrd, kernelSize: kernelSize, initrdSize: initrdSize, linux: linux)
  }

  @Test func keelCommand() {
    let options = RunOptions(gic: 2)
    let vms = [boot("vm0", kernel: "/k", initrd: "/i", kernelSize: 5 << 20, initrdSize: 3 << 20, memoryMiB: 256, append: "keel.test=smoke")]
    let layout = MachineLayout(vms: vms.map(\.blobs))
    let args = QEMUCommand.keel(hypervisor: "/h.elf", vms: vms, layout: layout, configFile: "/tmp/c.txt", hostCPUs: 4, options: options).arguments
    #expect(value(after: "-M", in: args) == "virt,virtualization=on,gic-version=2,its=off")
    #expect(value(after: "-cpu", in: args) == "cortex-a72")
    #expect(value(after: "-smp", in: args) == "4")
    #expect(value(after: "-m", in: args) == String(layout.hostMemoryMiB))
    #expect(value(after: "-kernel", in: args) == "/h.elf")
    #expect(value(after: "-append", in: args) == "keel.config=0x\(String(layout.configAddress, radix: 16))")
    #expect(value(after: "-serial", in: args) == "stdio")
    #expect(value(after: "-display", in: args) == "none")
    #expect(value(after: "-monitor", in: args) == "none")
    #expect(args.contains("-no-reboot"))
    #expect(!args.contains("-icount"))
    #expect(values(after: "-device", in: args) == [
      "guest-loader,addr=0x44000000,kernel=/k,bootargs=console=ttyAMA0 panic=-1 keel.test=smoke",
      "guest-loader,addr=0x\(String(0x4400_0000 + 6 << 20, radix: 16)),initrd=/i",
      "loader,file=/tmp/c.txt,addr=0x\(String(0x4400_0000 + 10 << 20, radix: 16)),force-raw=on",
    ])
  }

  @Test func keelCommandWithSeveralVMs() {
    let vms = [
      boot("web", kernel: "/a/Image", initrd: "/a/initrd", kernelSize: 20 << 20 + 1, initrdSize: 2 << 20, memoryMiB: 256),
      boot("db", kernel: "/b/kernel.bin", kernelSize: 1 << 20, memoryMiB: 128, append: "quiet"),
      boot("cache", kernel: "/c/Image", initrd: "/c/initrd", kernelSize: 4096, initrdSize: 4096, memoryMiB: 64),
    ]
    let layout = MachineLayout(vms: vms.map(\.blobs))
    let args = QEMUCommand.keel(hypervisor: "/h", vms: vms, layout: layout, configFile: "/c,fg", hostCPUs: 3, options: RunOptions()).arguments
    let devices = values(after: "-device", in: args)
    #expect(devices.count == 6)
    // Each VM's blobs follow the previous VM's, 2 MiB aligned; the config module comes last.
    let kernels = devices.filter { $0.contains("kernel=") }
    let initrds = devices.filter { $0.contains("initrd=") }
    #expect(kernels == [
      "guest-loader,addr=0x44000000,kernel=/a/Image,bootargs=console=ttyAMA0 panic=-1",
      "guest-loader,addr=0x45800000,kernel=/b/kernel.bin,bootargs=console=ttyAMA0 panic=-1 quiet",
      "guest-loader,addr=0x45a00000,kernel=/c/Image,bootargs=console=ttyAMA0 panic=-1",
    ])
    #expect(initrds == ["guest-loader,addr=0x45600000,initrd=/a/initrd", "guest-loader,addr=0x45c00000,initrd=/c/initrd"])
    #expect(devices.last == "loader,file=/c,,fg,addr=0x45e00000,force-raw=on")
    #expect(layout.kernelAddresses == [0x4400_0000, 0x4580_0000, 0x45A0_0000])
    #expect(layout.initrdAddresses == [0x4560_0000, nil, 0x45C0_0000])
    #expect(layout.configAddress == 0x45E0_0000)
    #expect(value(after: "-append", in: args) == "keel.config=0x45e00000")
    // Host RAM: hypervisor reserve + all blobs (incl. the config slot) + every guest + slack.
    let blobsMiB = (0x45E0_0000 + 2 << 20 - 0x4400_0000) >> 20
    #expect(layout.hostMemoryMiB == RunLimits.hostReserveMiB + blobsMiB + 256 + 128 + 64 + RunLimits.hostReserveMiB)
    #expect(value(after: "-m", in: args) == String(layout.hostMemoryMiB))
    #expect(value(after: "-smp", in: args) == "3")
  }

  @Test func defaultHostCPUsCoverAllVCPUsUpToTheMachineLimit() {
    #expect(QEMUCommand.defaultHostCPUs(for: [VMConfiguration(name: "a", cpus: 2), VMConfiguration(name: "b", cpus: 3)]) == 5)
    #expect(QEMUCommand.defaultHostCPUs(for: [VMConfiguration(name: "a", cpus: 8), VMConfiguration(name: "b", cpus: 1)]) == RunLimits.maxHostCPUs)
  }

  @Test func keelCommandDeterminism() {
    let vms = [boot("vm0")]
    let layout = MachineLayout(vms: vms.map(\.blobs))
    let args = QEMUCommand.keel(hypervisor: "/h", vms: vms, layout: layout, configFile: "/c", hostCPUs: 1, options: RunOptions(deterministic: true)).arguments
    #expect(value(after: "-M", in: args) == "virt,virtualization=on,gic-version=3,its=off,dtb-randomness=off")
    #expect(value(after: "-icount", in: args) == "shift=0,sleep=off")
    #expect(value(after: "-rtc", in: args) == "base=2024-01-01T00:00:00,clock=vm")
    #expect(value(after: "-smp", in: args) == "1")
  }

  @Test func commasInDevicePropertiesAreDoubled() {
    let vms = [boot("vm0", kernel: "/dir,x/k", append: "a=1,2")]
    let layout = MachineLayout(vms: vms.map(\.blobs))
    let args = QEMUCommand.keel(hypervisor: "/h", vms: vms, layout: layout, configFile: "/c", hostCPUs: 1, options: RunOptions()).arguments
    #expect(values(after: "-device", in: args).first == "guest-loader,addr=0x44000000,kernel=/dir,,x/k,bootargs=console=ttyAMA0 panic=-1 a=1,,2")
  }

  @Test func bareCommand() {
    let options = RunOptions(append: "  quiet ", cpus: 2, memoryMiB: 300, gic: 3, hostCPUs: 8, deterministic: true, bare: true)
    let args = QEMUCommand.bare(kernel: "/k", initrd: "/i", linux: true, options: options).arguments
    #expect(value(after: "-M", in: args) == "virt,gic-version=3,its=off,dtb-randomness=off")
    #expect(value(after: "-smp", in: args) == "2")
    #expect(value(after: "-m", in: args) == "300")
    #expect(value(after: "-kernel", in: args) == "/k")
    #expect(value(after: "-initrd", in: args) == "/i")
    #expect(value(after: "-append", in: args) == "console=ttyAMA0 panic=-1 quiet")
    #expect(!args.contains("-device"))
    #expect(!args.contains("-dtb"))
  }

  /// `--board keel`: QEMU boots the guest on a device tree file instead of building its own;
  /// everything else, -append and -initrd included (QEMU writes them into /chosen), is unchanged.
  @Test func bareCommandWithDeviceTree() {
    let options = RunOptions(append: "quiet", cpus: 2, memoryMiB: 300, deterministic: true, bare: true, board: .keel)
    let plain = QEMUCommand.bare(kernel: "/k", initrd: "/i", linux: true, options: options).arguments
    let args = QEMUCommand.bare(kernel: "/k", initrd: "/i", linux: true, options: options, dtb: "/tmp/b,1.dtb").arguments
    #expect(values(after: "-dtb", in: args) == ["/tmp/b,1.dtb"])
    #expect(args.filter { $0 != "-dtb" && $0 != "/tmp/b,1.dtb" } == plain)
    #expect(value(after: "-M", in: args) == "virt,gic-version=3,its=off,dtb-randomness=off")
  }

  @Test func guestCommandLine() {
    #expect(QEMUCommand.guestCommandLine(append: nil, linux: true) == "console=ttyAMA0 panic=-1")
    #expect(QEMUCommand.guestCommandLine(append: "", linux: true) == "console=ttyAMA0 panic=-1")
    #expect(QEMUCommand.guestCommandLine(append: "keel.test=panic", linux: true) == "console=ttyAMA0 panic=-1 keel.test=panic")
  }

  /// A bare-metal program's command line is its argv: Keel adds nothing to it.
  @Test func bareMetalCommandLineIsTheUsers() {
    #expect(QEMUCommand.guestCommandLine(append: nil, linux: false) == "")
    #expect(QEMUCommand.guestCommandLine(append: " one two ", linux: false) == "one two")
    let bare = QEMUCommand.bare(kernel: "/k", initrd: nil, linux: false, options: RunOptions(bare: true)).arguments
    #expect(!bare.contains("-append"))
    let withArgs = QEMUCommand.bare(kernel: "/k", initrd: nil, linux: false, options: RunOptions(append: "x=1", bare: true)).arguments
    #expect(value(after: "-append", in: withArgs) == "x=1")
    let vms = [boot("vm0", append: "x=1", linux: false), boot("vm1", linux: false)]
    let layout = MachineLayout(vms: vms.map(\.blobs))
    let args = QEMUCommand.keel(hypervisor: "/h", vms: vms, layout: layout, configFile: "/c", hostCPUs: 1, options: RunOptions()).arguments
    let loaders = values(after: "-device", in: args).filter { $0.contains("kernel=") }
    #expect(loaders[0].hasSuffix(",bootargs=x=1"))
    #expect(!loaders[1].contains("bootargs"))
  }
}

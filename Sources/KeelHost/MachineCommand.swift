/// A VM with its images resolved to files on disk, ready to be put into the machine.
public struct BootVM: Equatable, Sendable {
  public var configuration: VMConfiguration
  public var kernelPath: String
  public var initrdPath: String?
  public var kernelSize: UInt64
  public var initrdSize: UInt64?
  /// An arm64 Linux Image, which gets Keel's default command line before its own.
  public var linux: Bool

  public init(configuration: VMConfiguration, kernelPath: String, initrdPath: String?, kernelSize: UInt64, initrdSize: UInt64?, linux: Bool) {
    self.configuration = configuration; self.kernelPath = kernelPath; self.initrdPath = initrdPath
    self.kernelSize = kernelSize; self.initrdSize = initrdSize; self.linux = linux
  }

  public var blobs: MachineLayout.Blobs {
    MachineLayout.Blobs(kernelSize: kernelSize, initrdSize: initrdSize, memoryMiB: configuration.memoryMiB)
  }
}

extension QEMUCommand {
  /// Keel on QEMU with one or more VMs: the hypervisor is the machine's kernel, each guest rides
  /// in guest-loader blobs, and the configuration module (written to `configFile`) tells the
  /// hypervisor which blob belongs to which VM.
  /// `options` supplies the machine-wide settings: GIC, host CPUs, determinism.
  public static func keel(
    hypervisor: String, vms: [BootVM], layout: MachineLayout, configFile: String, hostCPUs: Int, options: RunOptions
  ) -> QEMUCommand {
    var args = machine(virtualization: true, options: options)
    args += ["-smp", String(hostCPUs), "-m", String(layout.hostMemoryMiB)]
    args += common(options: options)
    args += ["-kernel", hypervisor, "-append", "keel.config=\(hex(layout.configAddress))"]
    for (index, vm) in vms.enumerated() {
      let bootargs = guestCommandLine(append: vm.configuration.commandLine, linux: vm.linux)
      let loader = "guest-loader,addr=\(hex(layout.kernelAddresses[index])),kernel=\(escape(vm.kernelPath))"
      args += ["-device", bootargs.isEmpty ? loader : loader + ",bootargs=\(escape(bootargs))"]
      if let initrd = vm.initrdPath, let address = layout.initrdAddresses[index] {
        args += ["-device", "guest-loader,addr=\(hex(address)),initrd=\(escape(initrd))"]
      }
    }
    args += ["-device", "loader,file=\(escape(configFile)),addr=\(hex(layout.configAddress)),force-raw=on"]
    return QEMUCommand(arguments: args)
  }

  /// Physical CPUs when the user does not say: enough for every vCPU to have its own, capped at
  /// the machine's maximum (beyond that, the hypervisor's scheduler overcommits them).
  public static func defaultHostCPUs(for vms: [VMConfiguration]) -> Int {
    min(RunLimits.maxHostCPUs, max(1, vms.reduce(0) { $0 + $1.cpus }))
  }
}

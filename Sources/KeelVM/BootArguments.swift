import KeelFDT

/// What the host's boot arguments (/chosen `bootargs`) ask the hypervisor to run.
public enum BootChoice: Equatable, Sendable {
  /// `keel.config=<address>`: the configuration module the `keel` CLI loaded (docs/protocols.md),
  /// to be read with `ConfigurationModule.parseMachine` at that host address.
  case configurationModule(address: UInt64)
  /// No configuration module: one VM, `vm0`, from `keel.cpus=`/`keel.memory=`/`keel.load=` and
  /// the first kernel and ramdisk modules.
  case legacy(VMDefinition)
  /// Neither a configuration module nor a kernel module.
  case noKernel
}

/// The pure part of reading the host's boot arguments.
public enum BootArguments {
  /// Words are separated by spaces; a word is `key=value` (split at its first `=`, a word with
  /// no `=` or an empty key or value is skipped). Numbers are decimal or 0x-hexadecimal
  /// (`ConfigurationModule.number`).
  ///
  /// - The first `keel.config=` with a valid number wins, wherever it stands; one with a
  ///   malformed number is ignored.
  /// - Otherwise the legacy settings apply, the last of each winning: `keel.cpus=` and
  ///   `keel.memory=` (MiB) are ignored when malformed (`keel.cpus` also when past `Int.max`);
  ///   a malformed `keel.load=` clears the load address (the kernel's own default applies).
  ///   Nothing is range-checked here.
  /// - The kernel and initrd are the first `.kernel` and first `.ramdisk` module; with no kernel
  ///   module the answer is `.noKernel`.
  public static func parse(_ bootargs: String, modules: [GuestModule]) -> BootChoice {
    var legacy = VMDefinition(name: Array("vm0".utf8))
    let bytes = Array(bootargs.utf8)
    for word in bytes.split(separator: 32) {
      // As `Substring.split(separator: "=", maxSplits: 1)`: empty pieces are dropped, so leading
      // `=`s are skipped and `key=` has no value.
      let parts = word.split(separator: UInt8(ascii: "="), maxSplits: 1)
      guard parts.count == 2 else { continue }
      let key = parts[0], value = Array(parts[1])
      if key.elementsEqual("keel.config".utf8), let address = ConfigurationModule.number(value) {
        return .configurationModule(address: address)
      }
      if key.elementsEqual("keel.cpus".utf8), let n = ConfigurationModule.number(value), let c = Int(exactly: n) { legacy.cpus = c }
      if key.elementsEqual("keel.memory".utf8), let n = ConfigurationModule.number(value) { legacy.memoryMiB = n }
      if key.elementsEqual("keel.load".utf8) { legacy.loadAddress = ConfigurationModule.number(value) }
    }
    legacy.kernelModule = modules.first(where: { $0.kind == .kernel })?.region.base
    legacy.initrdModule = modules.first(where: { $0.kind == .ramdisk })?.region.base
    guard legacy.kernelModule != nil else { return .noKernel }
    return .legacy(legacy)
  }
}

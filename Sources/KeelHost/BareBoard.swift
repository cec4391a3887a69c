import KeelVM

/// The machine a `keel run --bare` guest sees.
public enum BareBoard: String, CaseIterable, Equatable, Sendable {
  /// QEMU virt as QEMU builds it, with devices Keel's guests do not have (PCIe host bridge,
  /// 32 virtio-mmio slots, fw_cfg, flash, platform bus): the guest kernel probes them all.
  case virt
  /// The board Keel gives the same VM, so that boot comparisons differ only in Keel.
  case keel

  /// The device tree of a `--board keel` run: Keel's own board for the same vCPUs, memory and
  /// GIC (`VMPlan.board`), not a trimmed copy of QEMU's, so it cannot drift when Keel's board
  /// changes. With `-dtb`, QEMU still writes the memory node and /chosen's bootargs and initrd.
  public static func keelDeviceTree(options: RunOptions) -> [UInt8] {
    // The PMU: QEMU's cortex-a72 has one, so Keel's hypervisor gives it to its guests.
    var board = VMPlan.board(
      cpus: options.cpus, ramSize: UInt64(options.memoryMiB) << 20, gicVersion: options.gic == 2 ? .v2 : .v3, pmu: true)
    // No PSCI idle state, the one difference: QEMU 7.2's own PSCI CPU_SUSPEND leaves a guest with
    // two or more vCPUs on GICv3 hung early in boot. Without it Linux idles in WFI, as Keel's
    // guests do for any idle period shorter than the state's minimum residency.
    board.idleState = nil
    return board.deviceTree()
  }
}

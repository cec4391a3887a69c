import Testing
import KeelFDT
import KeelVM
@testable import KeelHost

@Suite struct BareBoardTests {
  /// The tree of `--bare --board keel` is Keel's board for the same VM: the devices Keel emulates,
  /// none of the QEMU virt devices Keel's guests lack, and no bootargs or initrd of its own
  /// (QEMU writes those from -append and -initrd).
  @Test(arguments: [(1, 512, 3), (2, 300, 2)])
  func keelBoardTree(cpus: Int, memoryMiB: Int, gic: Int) throws {
    let options = RunOptions(cpus: cpus, memoryMiB: memoryMiB, gic: gic, bare: true, board: .keel)
    let blob = BareBoard.keelDeviceTree(options: options)
    let machine = try MachineDescription(dtb: blob)
    #expect(machine.cpus == (0..<cpus).map { UInt64($0) })
    #expect(machine.memory == [MemoryRegion(base: VMPlan.ramBase, size: UInt64(memoryMiB) << 20)])
    #expect(machine.gic?.version == (gic == 2 ? .v2 : .v3))
    #expect(machine.psci == .hvc)
    #expect(machine.bootargs.isEmpty)

    let tree = try FDT(parsing: blob)
    for compatible in ["arm,pl011", "arm,pl031", "arm,pl061", "gpio-keys", "arm,armv8-pmuv3", "arm,armv8-timer"] {
      #expect(tree.nodes(compatibleWith: compatible).count == 1, "\(compatible)")
    }
    for absent in ["virtio,mmio", "pci-host-ecam-generic", "qemu,fw-cfg-mmio", "cfi-flash", "qemu,platform", "arm,gic-v2m-frame"] {
      #expect(tree.nodes(compatibleWith: absent).isEmpty, "\(absent)")
    }
    #expect(tree.node(atPath: "/cpus/idle-states") == nil)
    let chosen = try #require(tree.node(atPath: "/chosen"))
    #expect(!chosen.hasProperty("bootargs") && !chosen.hasProperty("linux,initrd-start"))
    #expect(chosen.property("stdout-path")?.string == "/pl011@9000000")
  }

  /// The board Keel builds for its own guest (VMPlan.board), not a copy of it that could drift;
  /// only its idle state is left out.
  @Test func sameBoardAsKeelsGuest() {
    let options = RunOptions(cpus: 2, memoryMiB: 256, gic: 3, bare: true, board: .keel)
    var keels = VMPlan.board(cpus: 2, ramSize: 256 << 20, gicVersion: .v3, pmu: true)
    #expect(keels.idleState != nil)
    keels.idleState = nil
    #expect(BareBoard.keelDeviceTree(options: options) == keels.deviceTree())
  }
}

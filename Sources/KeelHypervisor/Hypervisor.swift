#if os(none)
import CKeelEL2
import KeelArch
import KeelDevices
import KeelPSCI
import KeelFDT
import KeelLoader
import KeelVGIC
import KeelVM

/// Everything the host CPUs share. Written by the boot CPU before secondaries read it.
enum Host {
  nonisolated(unsafe) static var machine: MachineDescription! = nil
  nonisolated(unsafe) static var gic: HostGICDriver! = nil
  nonisolated(unsafe) static var firmware = HostFirmware(useHVC: false)
  nonisolated(unsafe) static var cpus: [PerCPU] = []
  nonisolated(unsafe) static var vm: VM? = nil
  nonisolated(unsafe) static var virtualTimerINTID: UInt32 = 27
  nonisolated(unsafe) static var uartINTID: UInt32? = nil
  nonisolated(unsafe) static var uartBase: UInt64 = 0x0900_0000
  nonisolated(unsafe) static var ipaBits = 39
  static let startLock = SpinLock()
}

/// The hypervisor stops the machine on a bug in itself, loudly.
func hypervisorPanic(_ why: String) -> Never {
  Console.log("PANIC \(why)")
  Host.firmware.systemOff()
}

@_cdecl("keel_hypervisor_fault")
func keelHypervisorFault(_ kind: UInt64) {
  var frames = [UInt64](repeating: 0, count: 12)
  let n = frames.withUnsafeMutableBufferPointer { keel_backtrace($0.baseAddress, 12) }
  var trace = ""
  for i in 0..<Int(n) { trace += " " + hex(frames[i]) }
  Console.log("backtrace:" + trace)
  hypervisorPanic("exception \(kind) at EL2: ESR=\(hex(keel_read_esr_el2())) ELR=\(hex(keel_read_elr_el2())) FAR=\(hex(keel_read_far_el2()))")
}

// MARK: Boot

@main
struct KeelHypervisor {
  static func main() {
    let dtbAddress = keel_boot_dtb_address() != 0 ? keel_boot_dtb_address() : 0x4000_0000
    let machine: MachineDescription
    do throws(FDTError) {
      let header = try FDTHeader(UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(dtbAddress)), count: 40))
      let blob = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(dtbAddress)), count: Int(header.totalSize))
      machine = try MachineDescription(dtb: blob)
    } catch {
      hypervisorPanic("cannot read the host device tree at \(hex(dtbAddress))")
    }
    if let uart = machine.uart { keel_set_console_base(uart.base); Host.uartBase = uart.base; Host.uartINTID = uart.intid }
    Host.machine = machine
    Host.firmware = HostFirmware(useHVC: machine.psci == .hvc)
    Console.log("Keel hypervisor at EL2 on \(machine.cpus.count) CPUs, counter \(keel_read_cntfrq_el0()) Hz")

    guard let gicDescription = machine.gic, let gic = HostGICDriver.make(gicDescription, cpus: machine.cpus) else {
      hypervisorPanic("no usable GIC in the device tree (GICv2 needs GICH and GICV)")
    }
    Host.gic = gic
    if let timer = machine.timer { Host.virtualTimerINTID = timer.virtual }
    Host.ipaBits = Stage2Control(parange: UInt8(keel_read_id_aa64mmfr0_el1() & 0xF)).ipaBits
    Console.log("GICv\(gic.version.rawValue) with \(gic.listRegisterCount) list registers; stage-2 IPA \(Host.ipaBits) bits")

    let stacks = keel_stacks_start()
    let cpuCount = min(machine.cpus.count, 8)
    for slot in 0..<cpuCount {
      Host.cpus.append(PerCPU(slot: slot, mpidr: machine.cpus[slot], stackTop: stacks + UInt64(slot + 1) * 0x10000))
    }
    gic.initDistributor()
    startCPU(Host.cpus[0])
    if let intid = Host.uartINTID {
      gic.enableSPI(intid, toCPU: Host.cpus[0].mpidr, cpuMask: Host.cpus[0].cpuInterfaceMask)
      MMIO.write32(Host.uartBase + 0x38, 1 << 4 | 1 << 6)   // PL011 IMSC: RX and RX timeout
    }
    for slot in 1..<max(cpuCount, 1) {
      let r = Host.firmware.cpuOn(machine.cpus[slot], entry: keel_secondary_entry_address(), context: UInt64(slot))
      if r != 0 { Console.log("host CPU \(slot) did not start (PSCI \(r))") }
    }

    let vm = createVM(machine)
    Host.startLock.lock()
    Host.vm = vm
    Host.startLock.unlock()
    keel_sev()
    idle(Host.cpus[0])
  }
}

@_cdecl("keel_secondary_main")
func keelSecondaryMain(_ slot: UInt64) {
  let cpu = Host.cpus[Int(slot)]
  startCPU(cpu)
  idle(cpu)
}

func startCPU(_ cpu: PerCPU) {
  cpu.install()
  Host.gic.initCPU(slot: cpu.slot)
  cpu.cpuInterfaceMask = Host.gic.cpuInterfaceMask()
  keel_write_cptr_el2(0x33FF)
}

// MARK: The VM

/// Boot arguments the `keel` CLI passes in the hypervisor's own /chosen/bootargs.
struct VMOptions {
  var cpus = 1
  var memoryMiB: UInt64 = 256
  var loadAddress: UInt64? = nil

  init(_ bootargs: String) {
    for word in bootargs.split(separator: " ") {
      let parts = word.split(separator: "=", maxSplits: 1)
      guard parts.count == 2 else { continue }
      let key = parts[0], value = String(parts[1])
      if key == "keel.cpus", let n = Int(value) { cpus = n }
      if key == "keel.memory", let n = UInt64(value) { memoryMiB = n }
      if key == "keel.load" { loadAddress = parseNumber(value) }
    }
  }
}

func parseNumber(_ s: String) -> UInt64? {
  if s.hasPrefix("0x") { return UInt64(s.dropFirst(2), radix: 16) }
  return UInt64(s)
}

/// Guest RAM: the highest 2 MiB-aligned range of host memory above everything Keel and the
/// loaded modules occupy.
func placeGuestRAM(_ machine: MachineDescription, size: UInt64) -> UInt64? {
  var floor = keel_heap_end()
  for m in machine.modules { floor = max(floor, m.region.end) }
  for region in machine.memory.sorted(by: { $0.base > $1.base }) {
    guard region.size >= size else { continue }
    let base = alignDown(region.end - size, 0x20_0000)
    if base >= max(floor, region.base) { return base }
  }
  return nil
}

func createVM(_ machine: MachineDescription) -> VM {
  let options = VMOptions(machine.bootargs)
  guard let kernel = machine.modules.first(where: { $0.kind == .kernel }) else {
    hypervisorPanic("no guest kernel: pass one with -device guest-loader,kernel=...")
  }
  let initrd = machine.modules.first(where: { $0.kind == .ramdisk })
  let vcpus = max(1, min(options.cpus, Host.cpus.count))
  if vcpus != options.cpus { Console.log("vm0: \(options.cpus) vCPUs requested, \(Host.cpus.count) host CPUs: using \(vcpus)") }
  let ramSize = options.memoryMiB << 20
  let ramBase: UInt64 = 0x4000_0000
  guard let hostBase = placeGuestRAM(machine, size: ramSize) else {
    hypervisorPanic("vm0: \(options.memoryMiB) MiB of guest RAM do not fit in host memory")
  }

  let image = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(kernel.region.base)), count: Int(kernel.region.size))
  let plan: GuestImagePlan
  let boot: GuestBootLayout
  do throws(GuestImageError) {
    plan = try GuestImage.plan(image, ramBase: ramBase, ramSize: ramSize, loadAddress: options.loadAddress)
    boot = try GuestBootLayout.place(after: plan, ramBase: ramBase, ramSize: ramSize, initrdSize: initrd?.region.size)
  } catch {
    hypervisorPanic("vm0: guest image rejected: \(error.description)")
  }

  let layout = GuestLayout(ram: IPARange(base: IPA(ramBase), size: ramSize))
  let version: KeelVGIC.GICVersion = Host.gic.version
  let vm: VM
  do throws(Stage2Error) {
    vm = try VM(id: 0, layout: layout, ramHostBase: hostBase, gic: version, vcpuCount: vcpus, ipaBits: Host.ipaBits)
    if version == .v2, let gicv = Host.machine.gic?.virtualCPUInterface {
      try vm.stage2.map(ipa: layout.cpuInterface.base, to: PA(gicv.base), size: layout.cpuInterface.size, .device)
    }
  } catch {
    hypervisorPanic("vm0: cannot build stage-2 tables: \(error)")
  }

  for s in plan.segments {
    let dst = hostBase + (s.guestAddress - ramBase)
    keel_copy_words(UnsafeMutableRawPointer(bitPattern: UInt(dst)), image.baseAddress! + s.fileOffset, UInt64(s.fileSize))
    if s.memorySize > UInt64(s.fileSize) {
      UnsafeMutableRawPointer(bitPattern: UInt(dst + UInt64(s.fileSize)))!
        .initializeMemory(as: UInt8.self, repeating: 0, count: Int(s.memorySize - UInt64(s.fileSize)))
    }
    keel_sync_code(dst, s.memorySize)
  }
  var platform = GuestPlatform(cpuCount: vcpus, memory: MemoryRegion(base: ramBase, size: ramSize),
                               gicVersion: version == .v3 ? .v3 : .v2)
  platform.bootargs = kernel.bootargs ?? "console=ttyAMA0"
  if let initrd, let at = boot.initrdAddress {
    keel_copy_words(UnsafeMutableRawPointer(bitPattern: UInt(hostBase + (at - ramBase))),
                    UnsafeRawPointer(bitPattern: UInt(initrd.region.base)), initrd.region.size)
    platform.initrd = MemoryRegion(base: at, size: initrd.region.size)
  }
  let dtb = platform.build()
  dtb.withUnsafeBytes { bytes in
    keel_copy_words(UnsafeMutableRawPointer(bitPattern: UInt(hostBase + (boot.dtbAddress - ramBase))), bytes.baseAddress!, UInt64(bytes.count))
  }

  for (i, v) in vm.vcpus.enumerated() {
    v.hostMPIDR = Host.cpus[i].mpidr
    v.hostCPUMask = Host.cpus[i].cpuInterfaceMask
  }
  let boot0 = vm.vcpus[0]
  boot0.startEntry = plan.entry
  boot0.startContext = boot.dtbAddress
  boot0.power = .onPending
  let format = plan.format == .linuxImage ? "Linux Image" : (plan.format == .elf ? "ELF" : "raw binary")
  Console.log("vm0: \(vcpus) vCPUs, \(options.memoryMiB) MiB at host \(hex(hostBase)), \(format) entry \(hex(plan.entry)), DTB \(hex(boot.dtbAddress))" + (initrd != nil ? ", initrd \(initrd!.region.size) bytes" : ""))
  Console.log("vm0: counter offset \(vm.counterOffset) (CNTVOFF; guest counter = host counter - offset)")
  Console.log("vm0: guest console follows")
  return vm
}

// MARK: Running vCPUs

/// What a host CPU does when its vCPU is not running: sleep until kicked.
func idle(_ cpu: PerCPU) -> Never {
  while true {
    if let vm = Host.vm {
      if cpu.slot < vm.vcpus.count {
        let v = vm.vcpus[cpu.slot]
        if case .stopping = vm.state { park(cpu) }
        if v.power == .onPending { start(v, on: cpu) }
      }
      Host.gic.resampleAfterGuestDeactivation()
      keel_wfi()
      drainHostInterrupts(cpu)
    } else {
      keel_wfe()
    }
  }
}

/// Power a vCPU on and enter it. Never returns: the next time this CPU runs Swift it is in a trap.
func start(_ v: VCPU, on cpu: PerCPU) -> Never {
  let vm = v.vm
  vm.lock.lock()
  v.power = .on
  vm.lock.unlock()
  v.reset(entry: v.startEntry, x0: v.startContext)
  cpu.load(v)
  keel_write_vttbr_el2(vm.stage2.vttbr(vmid: vm.vmid))
  keel_write_vtcr_el2(Stage2Control(parange: UInt8(keel_read_id_aa64mmfr0_el1() & 0xF)).rawValue)
  keel_write_hcr_el2(HypervisorConfiguration.keelGuest.rawValue)
  keel_write_vmpidr_el2(v.affinity.mpidr)
  keel_write_vpidr_el2(keel_read_midr_el1())
  keel_write_cntvoff_el2(vm.counterOffset)
  // EL1 may read the physical counter; the physical timer is Keel's (its registers trap).
  keel_write_cnthctl_el2(1)
  v.el1.load()
  Host.gic.enableVirtualInterface()
  keel_isb()
  keel_tlbi_vmalls12e1is()
  flushInterrupts(v)
  keel_enter_guest()
}

/// Stop this CPU for good: its VM is going away.
func park(_ cpu: PerCPU) -> Never {
  if let vm = Host.vm {
    vm.lock.lock()
    cpu.parked = true
    vm.lock.unlock()
    keel_sev()
  }
  while true { keel_wfi() }
}

// MARK: Interrupts

/// Take every pending physical interrupt on this CPU.
func drainHostInterrupts(_ cpu: PerCPU) {
  let gic = Host.gic!
  while true {
    let iar = gic.acknowledge()
    let intid = iar & 0x3FF
    if intid >= 1020 { return }
    if intid == Host.virtualTimerINTID {
      // Leave it active: the guest's EOI of the hardware-linked virtual interrupt deactivates it.
      gic.endOfInterrupt(iar)
      if let vm = Host.vm, cpu.slot < vm.vcpus.count {
        vm.lock.lock()
        _ = vm.vgic.injectHardware(intid: intid, vcpu: cpu.slot)
        vm.lock.unlock()
      } else {
        gic.deactivate(iar)
      }
      continue
    }
    gic.endOfInterrupt(iar)
    gic.deactivate(iar)
    if let uart = Host.uartINTID, intid == uart { receiveConsoleInput() }
    // The kick SGI and the maintenance interrupt need no more: the exit path syncs list registers.
  }
}

/// Bytes typed on the host console go to the VM's virtual UART.
func receiveConsoleInput() {
  let base = Host.uartBase
  while MMIO.read32(base + 0x18) & (1 << 4) == 0 {
    let byte = UInt8(truncatingIfNeeded: MMIO.read32(base))
    if let vm = Host.vm {
      vm.lock.lock()
      _ = vm.uart.receive(byte)
      let kicks = vm.pendingKicks
      vm.pendingKicks = 0
      vm.lock.unlock()
      kick(vm, kicks)
    }
  }
  MMIO.write32(base + 0x44, 0x7FF)
}

/// Wake the host CPUs of these vCPUs so they pick up new virtual interrupts.
func kick(_ vm: VM, _ mask: UInt64, except: Int = -1) {
  guard mask != 0 else { return }
  for v in vm.vcpus where mask >> UInt64(v.index) & 1 == 1 && v.index != except {
    Host.gic.sendKick(toMPIDR: v.hostMPIDR, cpuMask: v.hostCPUMask)
  }
}

/// Move list-register state back into the vGIC and fill free list registers with the
/// highest-priority pending interrupts. Runs before every return to the guest.
func flushInterrupts(_ v: VCPU) {
  let gic = Host.gic!
  let vm = v.vm
  if v.listRegistersInUse == 0 && !vm.vgic.needsFlush(vcpu: v.index) { return }
  vm.lock.lock()
  let freed = v.listRegistersInUse & gic.emptyListRegisters()
  if freed != 0 {
    for n in 0..<gic.listRegisterCount where freed >> UInt64(n) & 1 == 1 {
      var lr = gic.readListRegister(n)
      if lr.hardware { gic.resampleAfterGuestDeactivation() }
      lr.state = .invalid
      _ = vm.vgic.listRegisterSynced(lr, vcpu: v.index)
      gic.clearListRegister(n)
    }
    v.listRegistersInUse &= ~freed
  }
  var more = false
  if vm.vgic.needsFlush(vcpu: v.index) {
    for n in 0..<gic.listRegisterCount where v.listRegistersInUse >> UInt64(n) & 1 == 1 {
      if let merged = vm.vgic.mergeResident(gic.readListRegister(n), vcpu: v.index) { gic.writeListRegister(n, merged) }
    }
    for n in 0..<gic.listRegisterCount where v.listRegistersInUse >> UInt64(n) & 1 == 0 {
      guard let lr = vm.vgic.takeNext(vcpu: v.index) else { break }
      gic.writeListRegister(n, lr)
      v.listRegistersInUse |= 1 << UInt64(n)
    }
    more = vm.vgic.needsFlush(vcpu: v.index) && vm.vgic.hasDeliverable(vcpu: v.index)
  }
  vm.lock.unlock()
  // Out of list registers: ask for a maintenance interrupt when they drain.
  gic.setUnderflowInterrupt(more)
}
#endif

#if !os(none)
@main
struct KeelHypervisor {
  static func main() {
    print("KeelHypervisor is the EL2 image: build it with swift build -c release --triple aarch64-none-none-elf --toolset Support/toolset-el2.json --product KeelHypervisor")
  }
}
#endif

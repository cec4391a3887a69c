#if os(none)
import CKeelEL2
import KeelSched
import Synchronization
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
  /// The host GIC, in place (set once at boot, `installGIC`): a stored optional would be
  /// copied, array and all, at every use, and the exit and idle paths use it constantly.
  static var gic: HostGICDriver {
    unsafeAddress { UnsafePointer(gicStorage!) }
    unsafeMutableAddress { gicStorage! }
  }
  nonisolated(unsafe) private static var gicStorage: UnsafeMutablePointer<HostGICDriver>? = nil
  static func installGIC(_ driver: HostGICDriver) {
    gicStorage = UnsafeMutablePointer<HostGICDriver>.allocate(capacity: 1)
    gicStorage!.initialize(to: driver)
  }
  nonisolated(unsafe) static var firmware = HostFirmware(useHVC: false)
  nonisolated(unsafe) static var cpus: [PerCPU] = []
  nonisolated(unsafe) static var vms: [VM] = []
  /// The VM (id) that receives console input; -1: none (management `focus`).
  nonisolated(unsafe) static var focus = 0
  /// Set by the console's `focus <vm>`: that VM's output is then shown raw, not as prefixed lines.
  nonisolated(unsafe) static var focusIsExplicit = false
  nonisolated(unsafe) static var wallClock = WallClock()
  nonisolated(unsafe) static var virtualTimerINTID: UInt32 = 27
  nonisolated(unsafe) static var physicalTimerINTID: UInt32 = 30
  /// The PMU overflow interrupt, PPI 7 as on QEMU `virt`; nil when the CPUs have no PMUv3.
  nonisolated(unsafe) static var pmuINTID: UInt32? = nil
  /// The private interrupts a guest owns while its vCPU runs, injected hardware-linked: its
  /// timers and its PMU.
  nonisolated(unsafe) static var linkedPPIs: [UInt32] = []
  /// The PMU event counters a guest gets: MDCR_EL2.HPMN as reset (all of them).
  static var guestEventCounters: Int { Host.pmuINTID == nil ? 0 : Int(mdcrBase & 0x1F) }
  /// CNTHP, Keel's scheduling timer.
  nonisolated(unsafe) static var hypervisorTimerINTID: UInt32 = 26
  nonisolated(unsafe) static var vtcr: UInt64 = 0
  nonisolated(unsafe) static var interrupts = HostInterruptTable<HostInterrupt>()
  /// MHz-equivalent of one host CPU (the unit of `cpu.min`/`cpu.max`, and what GETMHZ reports).
  nonisolated(unsafe) static var cpuMHz: UInt32 = 1000
  nonisolated(unsafe) static var uartINTID: UInt32? = nil
  nonisolated(unsafe) static var uartBase: UInt64 = 0x0900_0000
  nonisolated(unsafe) static var ipaBits = 39
  nonisolated(unsafe) static var mdcrBase: UInt64 = 0
  /// The host counter's frequency, read once at boot: CNTFRQ_EL0 itself holds the running
  /// vCPU's frequency (a trapped-time VM is told its own), so Keel never reads it again.
  nonisolated(unsafe) static var counterHz: UInt64 = 0
  /// CNTFRQ_EL0 is writable only at the highest exception level: here when the CPU has no EL3.
  /// With EL3 firmware, a scaled guest learns its frequency from the device tree alone.
  nonisolated(unsafe) static var counterFrequencyWritable = false
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
    Host.counterHz = keel_read_cntfrq_el0()
    Host.counterFrequencyWritable = keel_read_id_aa64pfr0_el1() >> 12 & 0xF == 0
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
    // Keep the reset value's HPMN (the PMU counters the guest may use).
    Host.mdcrBase = keel_read_mdcr_el2() & 0x1F
    Console.log("Keel hypervisor at EL2 on \(machine.cpus.count) CPUs, counter \(Host.counterHz) Hz")

    guard let gicDescription = machine.gic, let gic = HostGICDriver.make(gicDescription, cpus: machine.cpus) else {
      hypervisorPanic("no usable GIC in the device tree (GICv2 needs GICH and GICV)")
    }
    Host.installGIC(gic)
    if let timer = machine.timer {
      Host.virtualTimerINTID = timer.virtual
      Host.physicalTimerINTID = timer.nonSecurePhysical
      Host.hypervisorTimerINTID = timer.hypervisorPhysical
    }
    let pmuVersion = keel_read_id_aa64dfr0_el1() >> 8 & 0xF
    if pmuVersion != 0 && pmuVersion != 0xF { Host.pmuINTID = 23 }
    Host.linkedPPIs = [Host.virtualTimerINTID, Host.physicalTimerINTID] + (Host.pmuINTID.map { [$0] } ?? [])
    if let rtc = machine.rtc { Host.wallClock = WallClock(rtc: rtc.base) }
    let stage2 = Stage2Control(parange: UInt8(keel_read_id_aa64mmfr0_el1() & 0xF))
    Host.ipaBits = stage2.ipaBits
    Host.vtcr = stage2.rawValue
    Console.log("GICv\(gic.version.rawValue) with \(gic.listRegisterCount) list registers; stage-2 IPA \(Host.ipaBits) bits")

    registerHostInterrupts()
    let stacks = keel_stacks_start()
    let cpuCount = min(machine.cpus.count, 8)
    for slot in 0..<cpuCount {
      Host.cpus.append(PerCPU(slot: slot, mpidr: machine.cpus[slot], stackTop: stacks + UInt64(slot + 1) * 0x10000))
    }
    gic.initDistributor()
    startCPU(Host.cpus[0])
    if let intid = Host.uartINTID {
      gic.enableSPI(intid, toCPU: Host.cpus[0].mpidr, cpuMask: Host.cpus[0].cpuInterfaceMask)
      MMIO.write32(Host.uartBase + 0x38, ConsoleInput.rxInterrupts)   // PL011 IMSC: RX and RX timeout
    }
    for slot in 1..<max(cpuCount, 1) {
      let r = Host.firmware.cpuOn(machine.cpus[slot], entry: keel_secondary_entry_address(), context: UInt64(slot))
      if r != 0 { Console.log("host CPU \(slot) did not start (PSCI \(r))") }
    }

    let definition = machineDefinition(machine)
    Host.cpuMHz = definition.cpuMHz
    var ram = GuestRAMAllocator(memory: machine.memory, floor: GuestRAMAllocator.floor(above: keel_heap_end(), modules: machine.modules, reserved: machine.reserved))
    var vms: [VM] = []
    for def in definition.vms {
      if let vm = createVM(def, id: vms.count, ram: &ram, machine) { vms.append(vm) }
    }
    guard !vms.isEmpty else { hypervisorPanic("no VM could be started") }
    Sched.start(definition, vms: vms, hostCPUs: cpuCount)
    Console.log(vms.count == 1 ? "\(vms[0].name): guest console follows" : "\(vms.count) VMs; guest console lines are prefixed with [name]")
    Host.startLock.lock()
    Host.vms = vms
    Host.startLock.unlock()
    Sched.ready.store(true, ordering: .releasing)
    keel_sev()
    for vm in vms { powerOn(vm.vcpus[0]) }
    schedule(Host.cpus[0])
  }
}

@_cdecl("keel_secondary_main")
func keelSecondaryMain(_ slot: UInt64) {
  let cpu = Host.cpus[Int(slot)]
  startCPU(cpu)
  schedule(cpu)
}

func startCPU(_ cpu: PerCPU) {
  cpu.install()
  Host.gic.initCPU(slot: cpu.slot, timers: Host.linkedPPIs + [Host.hypervisorTimerINTID])
  keel_write_cnthp_ctl_el2(0)
  cpu.cpuInterfaceMask = Host.gic.cpuInterfaceMask()
  keel_write_cptr_el2(0x33FF)
}

// MARK: The VMs

/// The VMs to build (`BootArguments.machineDefinition`): with none, Keel has nothing to do.
func machineDefinition(_ machine: MachineDescription) -> MachineDefinition {
  do throws(MachineDefinitionError) {
    return try BootArguments.machineDefinition(machine.bootargs, modules: machine.modules) { address in
      UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(address)), count: ConfigurationModule.maxSize)
    }
  } catch {
    hypervisorPanic(error.description)
  }
}

func createVM(_ def: VMDefinition, id: Int, ram: inout GuestRAMAllocator, _ machine: MachineDescription) -> VM? {
  let name = String(decoding: def.name, as: UTF8.self)
  func fail(_ why: VMStartError) -> VM? { Console.log("\(name): not started: \(why.description)"); return nil }
  let (plan, image): (VMPlan, BootImage)
  do throws(VMStartError) {
    (plan, image) = try VMPlan.prepare(def, modules: machine.modules, gicVersion: Host.gic.version, hostCounterHz: Host.counterHz, pmu: Host.pmuINTID != nil) { module in
      UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(module.region.base)), count: Int(module.region.size))
    }
  } catch {
    return fail(error)
  }
  let board = plan.board
  guard let hostBase = ram.take(board.memory.size) else { return fail(.noHostMemory(mebibytes: def.memoryMiB)) }
  let vm: VM
  do throws(VMBuildError) {
    let gicv = Host.machine.gic?.virtualCPUInterface.map { PA($0.base) }
    let ram = GuestRAM(ram: IPARange(base: IPA(board.memory.base), size: board.memory.size), host: UnsafeMutableRawPointer(bitPattern: UInt(hostBase))!)
    vm = try VM(id: id, definition: def, board: board, ram: ram, ipaBits: Host.ipaBits, gicv: gicv)
  } catch {
    Console.log("\(name): not started: cannot build the VM: \(error)")
    return nil
  }
  vm.bootImage = image
  loadBootImage(vm)
  vm.vcpus[0].powerOnAtEntry()
  Console.log(plan.summary(def, name: vm.name, hostBase: hostBase, counterHz: vm.guestCounterFrequency, initrd: image.initrd))
  Console.log("\(vm.name): counter offset \(vm.counterOffset) (CNTVOFF; guest counter = host counter - offset)")
  return vm
}

/// Copies the kernel's segments, the initrd and the DTB into guest RAM (at creation and at
/// every reboot).
func loadBootImage(_ vm: VM) {
  let image = vm.bootImage!
  // The image plan and boot layout were checked against the VM's RAM when it was created.
  func at(_ ipa: UInt64, _ length: UInt64) -> UnsafeMutableRawPointer {
    guard let p = vm.hostPointer(ipa, length: length) else { hypervisorPanic("\(vm.name): boot image outside its RAM at \(hex(ipa))") }
    return p
  }
  for copy in image.copies {
    let dst = at(copy.guestAddress, copy.length + copy.zeroFill)
    keel_copy_words(dst, UnsafeRawPointer(bitPattern: UInt(copy.source)), copy.length)
    if copy.zeroFill > 0 { (dst + Int(copy.length)).initializeMemory(as: UInt8.self, repeating: 0, count: Int(copy.zeroFill)) }
    if copy.isCode { keel_sync_code(UInt64(UInt(bitPattern: dst)), copy.length + copy.zeroFill) }
  }
  image.dtb.withUnsafeBytes { bytes in
    keel_copy_words(at(image.layout.dtbAddress, UInt64(bytes.count)), bytes.baseAddress!, UInt64(bytes.count))
  }
}

// MARK: Interrupts

/// Take every pending physical interrupt on this CPU.
func drainHostInterrupts(_ cpu: PerCPU) {
  let gic = Host.gic
  while true {
    let iar = gic.acknowledge()
    let intid = iar & 0x3FF
    guard let handler = Host.interrupts[intid] else {
      if intid >= 1020 { return }
      // Nobody registered it (it was never enabled): drop it.
      gic.endOfInterrupt(iar)
      gic.deactivate(iar)
      continue
    }
    switch handler {
    case .guestLinked:
      // Leave it active: the guest's EOI of the hardware-linked virtual interrupt deactivates it.
      gic.endOfInterrupt(iar)
      if let v = cpu.vcpu, v.vm.state == .running {
        v.vm.devicesLock.lock()
        _ = v.vm.devices.interrupts.vgic.injectHardware(intid: intid, vcpu: v.index)
        v.vm.devicesLock.unlock()
      } else {
        // Nobody will take it (no vCPU here, or one whose VM is stopping or rebooting): silence
        // its source first. Its level would otherwise make the interrupt pending again the
        // moment it is deactivated, and this loop would take it for ever.
        if intid == Host.virtualTimerINTID { keel_write_cntv_ctl_el0(0) }
        else if intid == Host.physicalTimerINTID { keel_write_cntp_ctl_el0(0) }
        else { keel_write_pmintenclr_el1(~0) }
        keel_isb()
        gic.deactivate(iar)
      }
    case .schedulerTimer:
      // Level-sensitive: schedulerTick masks it before it is deactivated.
      schedulerTick(cpu)
      gic.endOfInterrupt(iar)
      gic.deactivate(iar)
    case .consoleUART:
      gic.endOfInterrupt(iar)
      gic.deactivate(iar)
      receiveConsoleInput()
    case .maintenance, .kick:
      gic.endOfInterrupt(iar)
      gic.deactivate(iar)
      // The maintenance interrupt is level-sensitive and stays asserted until the exit path has
      // synced the list registers, so return to let it (looping here would take it for ever).
      if handler == .maintenance { return }
    }
  }
}

/// What handles a host interrupt (`Host.interrupts`).
enum HostInterrupt: Equatable {
  /// One of `Host.linkedPPIs` (a guest timer, the PMU): injected hardware-linked.
  case guestLinked
  /// CNTHP, Keel's scheduling timer.
  case schedulerTimer
  case consoleUART
  /// The virtual CPU interface's maintenance interrupt (list registers drained, EOI of a level).
  case maintenance
  /// SGI 0, another CPU asking this one to look at what changed.
  case kick
}

/// Fills `Host.interrupts` from the host's machine description, once, before any CPU takes one.
func registerHostInterrupts() {
  var table = HostInterruptTable<HostInterrupt>()
  do throws(HostInterruptTable<HostInterrupt>.RegistrationError) {
    try table.register(Host.virtualTimerINTID, .guestLinked)
    try table.register(Host.physicalTimerINTID, .guestLinked)
    if let pmu = Host.pmuINTID { try table.register(pmu, .guestLinked) }
    try table.register(Host.hypervisorTimerINTID, .schedulerTimer)
    try table.register(Host.gic.maintenanceINTID, .maintenance)
    try table.register(HostINTID.kick, .kick)
    if let uart = Host.uartINTID { try table.register(uart, .consoleUART) }
  } catch {
    hypervisorPanic("host interrupts clash in the device tree: \(error)")
  }
  Host.interrupts = table
}

/// Console input for the focused VM (`ConsoleInputQueue`), and the host PL011's side of it.
enum ConsoleInput {
  static let lock = SpinLock()
  nonisolated(unsafe) static var queue = ConsoleInputQueue()
  static let rxInterrupts: UInt32 = 1 << 4 | 1 << 6

  /// Move queued bytes into the focused VM's UART while it has room.
  static func feedGuest() {
    guard Host.focus >= 0 && Host.focus < Host.vms.count else { return }
    Host.vms[Host.focus].withDevices { devices in queue.feed { devices.uart.receive($0) } }
  }
}

/// Bytes typed on the host console: management commands (after 0x1C) go to Keel
/// (Management.swift), everything else to the focused VM's virtual UART.
func receiveConsoleInput() {
  let base = Host.uartBase
  ConsoleInput.lock.lock()
  // Clear the interrupt before draining, never after: a byte that arrives between the last read
  // and a late clear would sit in the receive register with no interrupt, and with the FIFO off
  // the UART accepts nothing more, so console input would stop for good.
  MMIO.write32(base + 0x44, 0x7FF)
  while MMIO.read32(base + 0x18) & (1 << 4) == 0 {
    if ConsoleInput.queue.isFull {
      // Full: stop taking bytes until the guest reads some (resumeConsoleInput).
      MMIO.write32(base + 0x38, 0)
      break
    }
    let byte = UInt8(truncatingIfNeeded: MMIO.read32(base))
    // With no VM in focus, keystrokes other than management commands go nowhere.
    if Management.consume(byte) || Host.focus < 0 { continue }
    ConsoleInput.queue.append(byte)
  }
  ConsoleInput.feedGuest()
  ConsoleInput.lock.unlock()
}

/// The guest read its UART: room for more input.
func resumeConsoleInput() {
  ConsoleInput.lock.lock()
  if !ConsoleInput.queue.isEmpty { ConsoleInput.feedGuest() }
  let throttled = MMIO.read32(Host.uartBase + 0x38) & ConsoleInput.rxInterrupts == 0
  ConsoleInput.lock.unlock()
  if throttled {
    MMIO.write32(Host.uartBase + 0x38, ConsoleInput.rxInterrupts)
    receiveConsoleInput()
  }
}

/// Move list-register state back into the vGIC and fill free list registers with the
/// highest-priority pending interrupts. Runs before every return to the guest.
/// Checked inline on every exit; the work is out of line.
@inline(__always)
func flushInterrupts(_ v: VCPU) {
  if v.listRegistersInUse == 0 && !v.vm.devices.interrupts.vgic.needsFlush(vcpu: v.index) { return }
  flushInterruptsNow(v)
}

@inline(never)
func flushInterruptsNow(_ v: VCPU) {
  let vm = v.vm
  var lrs = Host.gic
  vm.devicesLock.lock()
  vm.devices.interrupts.vgic.flush(vcpu: v.index, inUse: &v.listRegistersInUse, into: &lrs)
  vm.devicesLock.unlock()
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

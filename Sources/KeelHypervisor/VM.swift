#if os(none)
import CKeelEL2
import KeelArch
import KeelDevices
import KeelBackdoor
import KeelTime
import KeelPSCI
import KeelVGIC
import KeelVM

/// Stage-2 table pages from the hypervisor heap; EL2 runs identity-mapped, so VA == PA.
struct HeapPages: PageAllocator {
  mutating func allocatePage() -> PA? {
    var p: UnsafeMutableRawPointer? = nil
    guard posix_memalign(&p, 4096, 4096) == 0, let page = p else { return nil }
    page.initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
    return PA(UInt64(UInt(bitPattern: page)))
  }
  func table(at pa: PA) -> UnsafeMutablePointer<UInt64> {
    UnsafeMutablePointer<UInt64>(bitPattern: UInt(pa.rawValue))!
  }
}

/// A device's SPI into the VM's vGIC.
struct VGICLine: IRQLine {
  unowned(unsafe) let vm: VM
  let intid: UInt32
  mutating func set(_ level: Bool) {
    // Called with the VM lock held (every device access is made under it).
    vm.pendingKicks |= vm.vgic.setLevel(intid: intid, level).kick
  }
}

/// Guest console bytes go to the host console: raw when Keel runs one VM (so an interactive
/// shell echoes at once), as whole lines prefixed with `[name] ` when several share it.
struct HostConsoleSink: ByteSink {
  unowned(unsafe) let vm: VM
  mutating func write(_ byte: UInt8) {
    // One VM, or the VM a person switched the console to: raw, so a shell's prompt shows.
    guard Host.vms.count > 1 && !(Host.focusIsExplicit && Host.focus == vm.id) else {
      if !vm.consoleLine.isEmpty { Console.guestLine(vm.name, vm.consoleLine); vm.consoleLine.removeAll() }
      Console.guestByte(byte)
      return
    }
    if byte == 13 { return }
    vm.consoleLine.append(byte)
    if byte == 10 || vm.consoleLine.count >= 160 {
      if byte != 10 { vm.consoleLine.append(10) }
      Console.guestLine(vm.name, vm.consoleLine)
      vm.consoleLine.removeAll(keepingCapacity: true)
    }
  }
}

enum VMState: Equatable {
  case running
  /// The guest asked for SYSTEM_RESET: vCPUs leave, the VM reloads and boots again.
  case resetting
  /// Stopping or stopped, for `VM.stopReason`. No payload: the state is read without the VM
  /// lock on every exit, and a one-byte value cannot be read torn.
  case stopping
}

/// One virtual machine: its memory, its vGIC and devices, its vCPUs.
final class VM {
  let id: Int
  let name: String
  let layout: GuestLayout
  let ramHostBase: UInt64
  let gicVersion: KeelVGIC.GICVersion
  var stage2: Stage2Tables<HeapPages>
  let vmid: UInt8
  var vgic: VGIC
  var uart: PL011<VGICLine, HostConsoleSink>! = nil
  /// GPIO with the power button on a line (gpio-keys in the guest DT): a graceful stop.
  var gpio: PL061<VGICLine>! = nil
  /// The button is held down until the guest has read the line (gpio-keys reads it after its
  /// debounce delay); releasing it any earlier would lose the press.
  var powerButtonHeld = false
  /// Host count at the last (re)boot, and the CPU ticks and count the status screen last showed.
  var bootedAt: UInt64 = 0
  var screenSample: (ticks: UInt64, at: UInt64) = (0, 0)
  var vcpus: [VCPU] = []
  /// Guards vgic, uart, vCPU power states and `state`.
  let lock = SpinLock()
  var state: VMState = .running
  /// The last vCPU of a stopping or rebooting VM has left and the stop or reboot was carried out.
  var finished = false
  /// Who asked for the reboot under way, or why the VM stops (reported when it happens).
  var rebootReason = "reset by the guest"
  var stopReason = ""
  /// Host count when the stop or reboot under way began (a watchdog reports one that hangs).
  var endRunAt: UInt64 = 0
  var endRunReported = false
  /// vCPUs to kick once the lock is dropped (bit n = vCPU n).
  var pendingKicks: UInt64 = 0
  /// CNTVOFF_EL2: the guest's virtual counter starts near zero when the VM is created.
  var counterOffset: UInt64
  /// Faults already reported, so a hostile guest cannot flood the console.
  var reported: [UInt64] = []
  /// Set at the first exit taken from EL0: the boot has reached user space (init).
  var reachedUserspace = false

  let definition: VMDefinition
  /// Paused from the management console: vCPUs wait in Keel, guest time stands still.
  var paused = false
  var pausedAtCount: UInt64 = 0
  /// Trapped-time mode: the guest's physical counter, derived from the host's (Time.swift).
  var clock: GuestClock? = nil
  var consoleLine: [UInt8] = []
  var backdoor: Backdoor<VMBackdoorHost>! = nil
  var bootImage: BootImage? = nil
  /// Host counts of recent guest resets, to tell a reboot from a reset loop.
  var resets: [UInt64] = []

  var guestCounterFrequency: UInt64 { definition.timeMode == .trapped ? (definition.timeFrequency ?? keel_read_cntfrq_el0()) : keel_read_cntfrq_el0() }

  init(id: Int, definition: VMDefinition, layout: GuestLayout, ramHostBase: UInt64, gic: KeelVGIC.GICVersion, ipaBits: Int) throws(Stage2Error) {
    let vcpuCount = definition.cpus
    self.id = id
    self.definition = definition
    self.name = String(decoding: definition.name, as: UTF8.self)
    self.layout = layout
    self.ramHostBase = ramHostBase
    self.gicVersion = gic
    self.vmid = UInt8(id + 1)
    stage2 = try Stage2Tables(allocator: HeapPages(), ipaBits: ipaBits)
    var affinities: [Affinity] = []
    for i in 0..<vcpuCount { affinities.append(Affinity(aff0: UInt8(i))) }
    vgic = VGIC(version: gic, affinities: affinities)
    counterOffset = keel_read_cntpct_el0()
    bootedAt = counterOffset
    try stage2.map(ipa: layout.ram.base, to: PA(ramHostBase), size: layout.ram.size, .normal)
    uart = PL011(irq: VGICLine(vm: self, intid: layout.uartINTID), out: HostConsoleSink(vm: self))
    gpio = PL061(irq: VGICLine(vm: self, intid: layout.gpioINTID))
    for i in 0..<vcpuCount { vcpus.append(VCPU(index: i, vm: self)) }
    if definition.timeMode == .trapped {
      clock = GuestClock(hostHz: keel_read_cntfrq_el0(), guestHz: guestCounterFrequency, hostNow: keel_read_cntpct_el0())
    }
    backdoor = makeBackdoor(for: self)
  }

  /// Host address of guest RAM at `ipa`, if the whole range is RAM.
  func hostAddress(_ ipa: UInt64, length: UInt64 = 1) -> UInt64? {
    guard layout.ram.contains(IPA(ipa), length: length) else { return nil }
    return ramHostBase + (ipa - layout.ram.base.rawValue)
  }

  var exitTotals: ExitCounters {
    var total = ExitCounters()
    for v in vcpus { total.add(v.exits) }
    return total
  }

  /// The exit census of the boot, printed once when the guest first runs user code
  /// (comparable with Xen's exits-to-init figure in linux-guest-and-measurement.md).
  func noteUserspace() {
    lock.lock()
    let first = !reachedUserspace
    reachedUserspace = true
    lock.unlock()
    if first { Console.log("\(name): first exit from user space after exits \(exitTotals.summary)") }
  }

  /// The virtual power button: the guest shuts down cleanly (if it listens to it).
  func pressPowerButton() {
    lock.lock()
    gpio.pressPowerButton()
    powerButtonHeld = true
    let kicks = pendingKicks
    pendingKicks = 0
    lock.unlock()
    deliver(self, kicks)
  }

  /// Report a guest misbehaviour once per (kind, address).
  func reportOnce(_ key: UInt64, _ message: String) {
    lock.lock()
    let fresh = !reported.contains(key) && reported.count < 64
    if fresh { reported.append(key) }
    lock.unlock()
    if fresh { Console.log("\(name): \(message)") }
  }
}

extension VM: PSCIMachine {
  var vcpuCount: Int { vcpus.count }
  func affinity(ofVCPU index: Int) -> Affinity { vcpus[index].affinity }
  func powerState(ofVCPU index: Int) -> VCPUPowerState { vcpus[index].power }
  func isValidEntryPoint(_ address: UInt64) -> Bool { layout.ram.contains(IPA(address), length: 4) && address % 4 == 0 }
}
#endif

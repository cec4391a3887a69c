#if os(none)
import CKeelEL2
import KeelArch
import KeelDevices
import KeelBackdoor
import KeelTime
import KeelPSCI
import KeelVM
import KeelFDT
import Synchronization

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

/// A VM's console output on the host console (`GuestConsoleLines`).
final class GuestConsole {
  let vmID: Int
  let name: String
  var lines = GuestConsoleLines()
  init(vmID: Int, name: String) { self.vmID = vmID; self.name = name }

  func write(_ byte: UInt8) {
    let raw = Host.vms.count <= 1 || (Host.focusIsExplicit && Host.focus == vmID)
    if lines.write(byte, raw: raw, emit: { Console.guestLine(name, $0) }) { Console.guestByte(byte) }
  }

  func flush(ending: Bool = false) { lines.flush(ending: ending) { Console.guestLine(name, $0) } }
}

/// The UART model's byte sink.
struct HostConsoleSink: ByteSink {
  unowned(unsafe) let console: GuestConsole
  mutating func write(_ byte: UInt8) { console.write(byte) }
}

/// One virtual machine, in parts with one job each. Locking rule (docs/design.md):
/// - `devicesLock` guards `devices` (bus, device models, vGIC) and `backdoor`;
/// - `lifecycleLock` guards `lifecycle` and the vCPUs' PSCI power states;
/// - `accountingLock` guards `accounting`;
/// - at most one of them is held at a time, and `Sched.lock` is never taken with one held.
/// `lifecycle.state` is also read unlocked on every exit (a one-byte enum).
final class VM {
  let id: Int
  let name: String
  let definition: VMDefinition

  // Board and devices.
  let devices: VMDevices<HostConsoleSink>
  let devicesLock = SpinLock()
  /// Guest RAM (`board.memory`), reached through its identity-mapped host address.
  let ram: GuestRAM
  let console: GuestConsole
  var stage2: Stage2Tables<HeapPages>
  let vmid: UInt8
  var backdoor: Backdoor<VMBackdoorHost>! = nil
  var bootImage: BootImage? = nil

  // vCPUs.
  var vcpus: [VCPU] = []

  // Lifecycle.
  let lifecycleLock = SpinLock()
  var lifecycle = VMLifecycle()
  var state: RunState { lifecycle.state }
  var paused: Bool { lifecycle.paused }
  /// For the idle loop's watchdog: a stop or reboot under way that nobody has reported yet.
  var endingUnreported: Bool {
    lifecycleLock.lock()
    defer { lifecycleLock.unlock() }
    return lifecycle.endingUnreported
  }

  // Time: CNTVOFF_EL2 (the guest's virtual counter starts near zero when the VM boots), and in
  // trapped-time mode the guest's physical counter, derived from the host's (Time.swift).
  var counterOffset: UInt64
  var clock: GuestClock? = nil
  /// Grows whenever what `restore` loads for every vCPU changes (a resume grows the counter
  /// offset): a vCPU kept loaded across it on a sleeping CPU (`idleLoaded`) is reloaded.
  let loadEpoch = Atomic<UInt64>(0)

  // Accounting.
  let accountingLock = SpinLock()
  var accounting = VMAccounting()

  var board: GuestBoard { devices.board }
  /// CNTFRQ_EL0 as the guest reads it (VMPlan decides: the scaled rate for a bare-metal guest,
  /// the host's for Linux, whose clock runs on the unscaled virtual counter).
  let reportedCounterFrequency: UInt64
  let realTime = VMRealTime()
  let gicWindow: Range<UInt64>
  var guestCounterFrequency: UInt64 { definition.timeMode == .trapped ? (definition.timeFrequency ?? Host.counterHz) : Host.counterHz }

  init(id: Int, definition: VMDefinition, board: GuestBoard, ram: GuestRAM, ipaBits: Int, gicv: PA?) throws(VMBuildError) {
    self.id = id
    self.definition = definition
    self.name = String(decoding: definition.name, as: UTF8.self)
    self.ram = ram
    console = GuestConsole(vmID: id, name: name)
    self.vmid = UInt8(id + 1)
    gicWindow = board.gicRegisterWindow
    reportedCounterFrequency = board.timerPPIs.clockFrequency.map { UInt64($0) } ?? Host.counterHz
    counterOffset = keel_read_cntpct_el0()
    do throws(Stage2Error) {
      stage2 = try Stage2Tables(allocator: HeapPages(), ipaBits: ipaBits)
      for m in board.stage2Map(ramAt: PA(UInt64(UInt(bitPattern: ram.host))), virtualCPUInterfaceAt: gicv) {
        try stage2.map(ipa: m.ipa, to: m.pa, size: m.size, m.attributes)
      }
    } catch { throw .stage2(error) }
    do throws(BusError) {
      devices = try VMDevices(board: board, console: HostConsoleSink(console: console), realTime: realTime)
    } catch { throw .bus(error) }
    accounting.bootedAt = counterOffset
    for i in 0..<definition.cpus { vcpus.append(VCPU(index: i, vm: self)) }
    if definition.timeMode == .trapped {
      clock = GuestClock(hostHz: Host.counterHz, guestHz: guestCounterFrequency, hostNow: keel_read_cntpct_el0())
    }
    backdoor = makeBackdoor(for: self)
  }

  /// The vCPUs' hardware needs, once the devices lock is dropped (see `VMDevices.settle`).
  @inline(__always)
  func apply(_ effects: ShellEffects, from cpu: PerCPU? = nil) {
    if !effects.isEmpty { carryOut(effects, from: cpu) }
  }

  func carryOut(_ effects: ShellEffects, from cpu: PerCPU?) {
    if effects.deactivateHardware != 0 {
      for i in 0..<32 where effects.deactivateHardware >> UInt32(i) & 1 == 1 { Host.gic.deactivate(UInt32(i)) }
    }
    deliver(self, effects.kick, from: cpu)
    if effects.consoleDrained && id == Host.focus { resumeConsoleInput() }
    if effects.powerOff { _ = endRun(self, .stopping, reason: "powered off by a device") }
    if effects.reset { _ = endRun(self, .resetting, reason: "reset by a device") }
  }

  /// Runs `body` on the devices under their lock, then applies what they caused.
  func withDevices(from cpu: PerCPU? = nil, _ body: (VMDevices<HostConsoleSink>) -> Void) {
    devicesLock.lock()
    body(devices)
    let effects = devices.settle()
    devicesLock.unlock()
    apply(effects, from: cpu)
  }

  var ramHostBase: UInt64 { UInt64(UInt(bitPattern: ram.host)) }

  /// `length` bytes of guest RAM at `ipa`, in host memory; nil if any of them is not RAM.
  func hostPointer(_ ipa: UInt64, length: UInt64) -> UnsafeMutableRawPointer? {
    do throws(GuestMemoryError) { return ram.host + Int(try ram.offset(of: ipa, length: length)) } catch { return nil }
  }

  var exitTotals: ExitCounters {
    var total = ExitCounters()
    for v in vcpus { total.add(v.exits) }
    return total
  }

  /// The exit census of the boot, printed once when the guest first runs user code
  /// (comparable with Xen's exits-to-init figure in linux-guest-and-measurement.md).
  func noteUserspace() {
    accountingLock.lock()
    let first = accounting.noteUserspace()
    accountingLock.unlock()
    if first { Console.log("\(name): first exit from user space after exits \(exitTotals.summary)") }
  }

  /// The virtual power button: the guest shuts down cleanly (if it listens to it).
  func pressPowerButton() { withDevices { $0.powerButton?.press() } }

  /// Report a guest misbehaviour once per (kind, address).
  func reportOnce(_ key: UInt64, _ message: String) {
    accountingLock.lock()
    let fresh = accounting.firstReport(key)
    accountingLock.unlock()
    if fresh { Console.log("\(name): \(message)") }
  }
}

enum VMBuildError: Error {
  case stage2(Stage2Error)
  case bus(BusError)
}

extension VM: PSCIMachine {
  var vcpuCount: Int { vcpus.count }
  func affinity(ofVCPU index: Int) -> Affinity { vcpus[index].affinity }
  func powerState(ofVCPU index: Int) -> VCPUPowerState { vcpus[index].power }
  func isValidEntryPoint(_ address: UInt64) -> Bool { ram.contains(address, length: 4) && address % 4 == 0 }
}
#endif

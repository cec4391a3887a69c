#if os(none)
import CKeelEL2
import Synchronization
import KeelBackdoor
import KeelTime
import KeelVM
import KeelSched
import KeelPSCI

/// Management commands typed on (or sent by `keel` to) the host serial console, after the
/// byte 0x1C. They never reach a guest. Protocol: docs/protocols.md.
enum Management {
  nonisolated(unsafe) static var input = ManagementLine()

  /// Takes `byte` if it belongs to a management command.
  static func consume(_ byte: UInt8) -> Bool {
    switch input.consume(byte) {
    case .passThrough: return false
    case .taken: return true
    case .line(let line):
      var shell = ManagementShell()
      ManagementConsole.run(line, on: &shell)
      return true
    }
  }
}

/// Carries out what `ManagementConsole` decides, under the hypervisor's locks.
struct ManagementShell: ManagementHost {
  func consoleVMs() -> [ConsoleVM] { Host.vms.map { ConsoleVM(id: $0.id, name: $0.definition.name, virtualHost: virtualHostName($0)) } }
  func lifecycle(ofVM id: Int) -> VMLifecycle {
    let vm = Host.vms[id]
    vm.lifecycleLock.lock()
    defer { vm.lifecycleLock.unlock() }
    return vm.lifecycle
  }
  func log(_ text: String) { Console.log(text) }
  func showScreen(_ vms: [Int], scope: [UInt8]?) { renderScreen(vms.map { Host.vms[$0] }, scope: scope) }
  func showSchedulerState() { logSchedulerState() }
  func statLine(ofVM id: Int) -> String { StatusText.statLine(status(Host.vms[id]), now: keel_read_cntpct_el0(), hz: Host.counterHz) }
  func inspect(_ vm: Int) {
    for line in StatusText.inspect(status(Host.vms[vm]), now: keel_read_cntpct_el0(), hz: Host.counterHz) { Console.log(line) }
  }
  func focus(_ vm: Int?) {
    Host.focus = vm ?? -1
    Host.focusIsExplicit = vm != nil
  }
  func pressPowerButton(_ vm: Int) { Host.vms[vm].pressPowerButton() }
  func endRunOfVM(_ vm: Int, _ next: RunState, reason: String) -> Bool { endRun(Host.vms[vm], next, reason: reason) }
  func bootVM(_ vm: Int) { boot(Host.vms[vm]) }
  func setGuestInfo(_ vm: Int, key: [UInt8], value: [UInt8]) -> Bool {
    Host.vms[vm].devicesLock.lock()
    defer { Host.vms[vm].devicesLock.unlock() }
    return Host.vms[vm].backdoor.guestInfo.setValue(value, forKey: key)
  }
  func guestInfo(_ vm: Int, key: [UInt8]) -> [UInt8]? {
    Host.vms[vm].devicesLock.lock()
    defer { Host.vms[vm].devicesLock.unlock() }
    return Host.vms[vm].backdoor.guestInfo.value(forKey: key)
  }
  func pauseVM(_ vm: Int) { pause(Host.vms[vm]) }
  func resumeVM(_ vm: Int) { resume(Host.vms[vm]) }
}

// MARK: What the console shows

/// Where every vCPU's state is, as the policy and the hardware shell see it (diagnosis: the
/// console's `cpus`, and a VM whose stop or reboot does not finish).
func logSchedulerState() {
  for cpu in Host.cpus {
    Sched.lock.lock()
    let running = Sched.policy.running(on: cpu.id)
    let armed = Sched.policy.sliceArmed(on: cpu.id)
    Sched.lock.unlock()
    let loaded = cpu.vcpu.map { "\($0.vm.name)/vcpu\($0.index)" } ?? "none"
    Console.log("cpu\(cpu.slot): policy runs \(running.map { "\(Sched.vcpus[$0.index].vm.name)/vcpu\(Sched.vcpus[$0.index].index)" } ?? "none"), loaded \(loaded), slice timer \(armed ? "armed" : "off"), reschedule \(cpu.rescheduleRequested.load(ordering: .relaxed))")
  }
  for v in Sched.vcpus {
    Sched.lock.lock()
    let state = Sched.policy.state(of: v.id)
    Sched.lock.unlock()
    let where_ = StatusText.describe(state)
    let power = v.power == .on ? "on" : v.power == .off ? "off" : "on-pending"
    Console.log("\(v.vm.name)/vcpu\(v.index): \(where_), resident on \(v.resident.load(ordering: .relaxed)), power \(power), pc \(hex(v.pc))")
  }
}

/// The virtual host (root resource group) a VM belongs to.
func virtualHostName(_ vm: VM) -> String {
  Sched.lock.lock()
  defer { Sched.lock.unlock() }
  return Sched.policy.configuration.groups[Sched.policy.virtualHost(of: VMID(vm.id)).index].name
}

/// A VM as the console shows it, gathered under the scheduler's and the VM's locks.
func status(_ vm: VM, scope: [UInt8]? = nil) -> VMStatus {
  Sched.lock.lock()
  let ticks = Sched.policy.consumedTicks(of: VMID(vm.id))
  let entitled = Sched.policy.entitlementMHz(of: VMID(vm.id))
  let states = vm.vcpus.map { Sched.policy.state(of: $0.id) }
  Sched.lock.unlock()
  let vhost = virtualHostName(vm)
  vm.lifecycleLock.lock()
  let lifecycle = vm.lifecycle
  vm.lifecycleLock.unlock()
  return VMStatus(name: vm.name, localName: ManagementConsole.localName(vm.name, scope: scope), virtualHost: vhost,
                  group: vm.definition.group.map { String(decoding: $0, as: UTF8.self) } ?? vhost,
                  state: lifecycle.description, isRunning: lifecycle.state == .running, isPaused: lifecycle.paused,
                  definition: vm.definition, cpuTicks: ticks, entitledMHz: entitled, vcpuStates: states,
                  vcpuExits: vm.vcpus.map { $0.exits.total }, exits: vm.exitTotals, bootedAt: vm.accounting.bootedAt,
                  ramHostBase: vm.ramHostBase)
}

func renderScreen(_ vms: [VM], scope: [UInt8]?) {
  let now = keel_read_cntpct_el0()
  var rows: [VMStatus] = []
  for vm in vms {
    var row = status(vm, scope: scope)
    vm.accountingLock.lock()
    row.screenPercent = StatusText.percent(ticks: row.cpuTicks, last: vm.accounting.screenSample, bootedAt: row.bootedAt, now: now)
    vm.accounting.screenSample = (row.cpuTicks, now)
    vm.accountingLock.unlock()
    rows.append(row)
  }
  Console.raw(StatusText.screen(rows, scope: scope.map { String(decoding: $0, as: UTF8.self) }, hostCPUs: Host.cpus.count,
                                cpuMHz: Host.cpuMHz, now: now, hz: Host.counterHz))
}

// MARK: Pause and resume

/// The VM's vCPUs leave their host CPUs at their next exit and sleep until `resume`; guest
/// time stands still meanwhile.
func pause(_ vm: VM) {
  let now = keel_read_cntpct_el0()
  vm.lifecycleLock.lock()
  if vm.lifecycle.pause(at: now) { vm.clock?.pause(atHost: now) }
  vm.lifecycleLock.unlock()
  Sched.lock.lock()
  let kicks = Sched.policy.hostCPUs(runningVCPUsOf: VMID(vm.id))
  Sched.lock.unlock()
  for host in kicks { Host.cpus[host.index].kick() }
}

func resume(_ vm: VM) {
  let now = keel_read_cntpct_el0()
  vm.lifecycleLock.lock()
  if let stood = vm.lifecycle.resume(at: now) {
    // Each vCPU loads the grown counter offset and its timer deadlines when it next gets a CPU.
    vm.counterOffset &+= stood
    vm.realTime.pausedTicks &+= stood
    vm.clock?.resume(atHost: now)
    vm.loadEpoch.add(1, ordering: .releasing)
  }
  vm.lifecycleLock.unlock()
  deliver(vm, (1 << UInt64(vm.vcpus.count)) - 1)
}
#endif

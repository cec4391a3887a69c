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
    case .line(let line): run(line); return true
    }
  }

  static func reply(_ ok: Bool, _ text: String) {
    Console.log("mgmt: " + (ok ? "ok" : "error") + (text.isEmpty ? "" : " " + text))
  }

  /// A VM by name (unique among the visible ones; in a virtual host's view, by the name it has
  /// there) or by `vm<index>`.
  static func findVM(_ name: [UInt8], in vms: [VM], scope: [UInt8]?) -> VM? {
    let named = vms.filter { $0.definition.name == name || Array(localName($0, scope).utf8) == name }
    if named.count == 1 { return named[0] }
    return vms.first { Array("vm\($0.id)".utf8) == name }
  }

  /// A VM's name as a virtual host's administrator knows it: the machine calls a name that two
  /// virtual hosts share `<virtual host>.<name>` (keel qualifies it), the tenant just `<name>`.
  static func localName(_ vm: VM, _ scope: [UInt8]?) -> String {
    guard let scope else { return vm.name }
    let prefix = String(decoding: scope, as: UTF8.self) + "."
    return vm.name.hasPrefix(prefix) ? String(vm.name.dropFirst(prefix.utf8.count)) : vm.name
  }

  static func stateText(_ vm: VM) -> String {
    vm.lifecycleLock.lock()
    defer { vm.lifecycleLock.unlock() }
    return vm.lifecycle.description
  }

  static func run(_ line: [UInt8]) {
    let parsed = ManagementCommandParser.parse(line)
    // `@tenant command …`: the tenant's administrator sees and controls only its own VMs.
    let scope = parsed.scope
    if let scope, !Host.vms.contains(where: { Array(virtualHostName($0).utf8) == scope }) {
      return reply(false, "no virtual host \(String(decoding: scope, as: UTF8.self))")
    }
    let vms = scope.map { s in Host.vms.filter { Array(virtualHostName($0).utf8) == s } } ?? Host.vms
    var target: VM? = nil
    if let name = parsed.target {
      target = findVM(name, in: vms, scope: scope)
      if target == nil {
        let place = scope.map { " in virtual host " + String(decoding: $0, as: UTF8.self) } ?? ""
        return reply(false, "no VM named \(String(decoding: name, as: UTF8.self))\(place)")
      }
    }
    let vm = target
    switch parsed.command {
    case .screen:
      renderScreen(vms, scope: scope)
      reply(true, "screen")
    case .help:
      reply(true, ManagementCommand.usageText)
    case .cpus:
      logSchedulerState()
      reply(true, "")
    case .status:
      reply(true, vms.map { "\(localName($0, scope))=\(stateText($0))" }.joined(separator: " "))
    case .usage(let usage):
      reply(false, usage.text)
    case .unknown(let name):
      reply(false, "unknown command \(String(decoding: name, as: UTF8.self)); " + ManagementCommand.usageText)
    case .stat:
      reply(true, statLine(vm!))
    case .inspect:
      inspect(vm!)
      reply(true, "")
    case .focus(nil):
      Host.focus = -1
      Host.focusIsExplicit = false
      renderScreen(vms, scope: scope)
      reply(true, "console input goes to no VM")
    case .focus:
      Host.focus = vm!.id
      Host.focusIsExplicit = true
      reply(true, "console input and output: \(vm!.name) (Ctrl-\\ focus to leave)")
    case .shutdown:
      guard vm!.state == .running, !vm!.paused else { return reply(false, "\(vm!.name) is \(stateText(vm!))") }
      vm!.pressPowerButton()
      reply(true, "\(vm!.name): power button pressed")
    case .poweroff:
      guard endRun(vm!, .stopping, reason: "powered off from the console") else { return reply(false, "\(vm!.name) is \(stateText(vm!))") }
      reply(true, "")
    case .reset:
      guard endRun(vm!, .resetting, reason: "reset from the console") else { return reply(false, "\(vm!.name) is \(stateText(vm!))") }
      reply(true, "")
    case .start:
      vm!.lifecycleLock.lock()
      let stopped = vm!.lifecycle.state == .stopping && vm!.lifecycle.finished
      vm!.lifecycleLock.unlock()
      guard stopped else { return reply(false, "\(vm!.name) is \(stateText(vm!))") }
      Console.log("\(vm!.name): started from the console")
      boot(vm!)
      reply(true, "")
    case .guestInfoSet(_, let key, let value):
      vm!.devicesLock.lock()
      let stored = vm!.backdoor.guestInfo.setValue(value, forKey: key)
      vm!.devicesLock.unlock()
      reply(stored, stored ? "" : "guestinfo store full")
    case .guestInfoGet(_, let key):
      vm!.devicesLock.lock()
      let value = vm!.backdoor.guestInfo.value(forKey: key)
      vm!.devicesLock.unlock()
      if let value {
        reply(true, String(decoding: ProtocolEscaping.escape(value), as: UTF8.self))
      } else {
        reply(false, "no value for guestinfo.\(String(decoding: key, as: UTF8.self))")
      }
    case .pause, .resume:
      guard case .running = vm!.state else { return reply(false, "\(vm!.name) is not running") }
      if case .pause = parsed.command { pause(vm!) } else { resume(vm!) }
      reply(true, "")
    }
  }
}

// MARK: What the console shows

/// Where every vCPU's state is, as the policy and the hardware shell see it (diagnosis: the
/// console's `cpus`, and a VM whose stop or reboot does not finish).
func logSchedulerState() {
  for cpu in Host.cpus {
    Sched.lock.lock()
    let running = Sched.policy.running(on: cpu.id)
    let armed = cpu.sliceArmed
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
  return VMStatus(name: vm.name, localName: Management.localName(vm, scope), virtualHost: vhost,
                  group: vm.definition.group.map { String(decoding: $0, as: UTF8.self) } ?? vhost,
                  state: lifecycle.description, isRunning: lifecycle.state == .running, isPaused: lifecycle.paused,
                  definition: vm.definition, cpuTicks: ticks, entitledMHz: entitled, vcpuStates: states,
                  vcpuExits: vm.vcpus.map { $0.exits.total }, exits: vm.exitTotals, bootedAt: vm.accounting.bootedAt,
                  ramHostBase: vm.ramHostBase)
}

func statLine(_ vm: VM) -> String {
  StatusText.statLine(status(vm), now: keel_read_cntpct_el0(), hz: Host.counterHz)
}

func inspect(_ vm: VM) {
  for line in StatusText.inspect(status(vm), now: keel_read_cntpct_el0(), hz: Host.counterHz) { Console.log(line) }
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
  vm.lifecycleLock.lock()
  if !vm.lifecycle.paused {
    vm.lifecycle.paused = true
    vm.lifecycle.pausedAtCount = keel_read_cntpct_el0()
    vm.clock?.pause(atHost: vm.lifecycle.pausedAtCount)
  }
  vm.lifecycleLock.unlock()
  var kicks = CPUMask()
  Sched.lock.lock()
  for v in vm.vcpus { if case .running(let host) = Sched.policy.state(of: v.id) { kicks.insert(host) } }
  Sched.lock.unlock()
  for host in kicks { Host.cpus[host.index].kick() }
}

func resume(_ vm: VM) {
  vm.lifecycleLock.lock()
  if vm.lifecycle.paused {
    let now = keel_read_cntpct_el0()
    // Guest time does not advance while paused: the virtual counter offset grows by the pause.
    // Each vCPU loads the new offset and timer deadlines when it next gets a CPU.
    vm.counterOffset &+= now &- vm.lifecycle.pausedAtCount
    vm.realTime.pausedTicks &+= now &- vm.lifecycle.pausedAtCount
    vm.clock?.resume(atHost: now)
    vm.lifecycle.paused = false
  }
  vm.lifecycleLock.unlock()
  deliver(vm, (1 << UInt64(vm.vcpus.count)) - 1)
}
#endif

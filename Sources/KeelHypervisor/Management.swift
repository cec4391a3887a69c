#if os(none)
import CKeelEL2
import Synchronization
import KeelBackdoor
import KeelTime
import KeelVM
import KeelSched

/// Management commands typed on (or sent by `keel` to) the host serial console, after the
/// byte 0x1C. They never reach a guest. Protocol: docs/protocols.md.
enum Management {
  static let escape: UInt8 = 0x1C
  nonisolated(unsafe) static var collecting = false
  nonisolated(unsafe) static var line: [UInt8] = []

  /// Takes `byte` if it belongs to a management command.
  static func consume(_ byte: UInt8) -> Bool {
    if byte == escape { collecting = true; line.removeAll(); return true }
    guard collecting else { return false }
    if byte == 10 || byte == 13 {
      collecting = false
      run(line)
      line.removeAll()
    } else if line.count < 4096 {
      line.append(byte)
    }
    return true
  }

  static func reply(_ ok: Bool, _ text: String) {
    Console.log("mgmt: " + (ok ? "ok" : "error") + (text.isEmpty ? "" : " " + text))
  }

  static func words(_ line: [UInt8], max: Int) -> [[UInt8]] {
    var out: [[UInt8]] = []
    var current: [UInt8] = []
    var i = 0
    while i < line.count {
      let c = line[i]
      if c == 32 && out.count < max - 1 {
        if !current.isEmpty { out.append(current); current.removeAll() }
      } else {
        current.append(c)
      }
      i += 1
    }
    if !current.isEmpty || out.count == max - 1 { out.append(current) }
    return out
  }

  static func findVM(_ name: [UInt8]) -> VM? {
    for (i, vm) in Host.vms.enumerated() {
      if vm.definition.name == name || Array("vm\(i)".utf8) == name { return vm }
    }
    return nil
  }

  static func run(_ line: [UInt8]) {
    let w = words(line, max: 4)
    guard let command = w.first else { return reply(false, "empty command") }
    switch String(decoding: command, as: UTF8.self) {
    case "status":
      var text = ""
      for vm in Host.vms {
        let state: String
        switch vm.state {
        case .running: state = vm.paused ? "paused" : "running"
        case .resetting: state = "resetting"
        case .stopping(let why): state = "stopped(\(why))"
        }
        text += (text.isEmpty ? "" : " ") + "\(vm.name)=\(state)"
      }
      reply(true, text)
    case "guestinfo":
      guard w.count >= 3, let vm = findVM(w[1]) else { return reply(false, "usage: guestinfo <vm> <key> [<value>]") }
      var key = w[2]
      let prefix = Array("guestinfo.".utf8)
      if key.starts(with: prefix) { key.removeFirst(prefix.count) }
      vm.lock.lock()
      if w.count == 4 {
        let stored = vm.backdoor.guestInfo.setValue(HypervisorConfiguration.unescape(w[3]), forKey: key)
        vm.lock.unlock()
        reply(stored, stored ? "" : "guestinfo store full")
      } else {
        let value = vm.backdoor.guestInfo.value(forKey: key)
        vm.lock.unlock()
        if let value {
          reply(true, String(decoding: HypervisorConfiguration.escape(value), as: UTF8.self))
        } else {
          reply(false, "no value for guestinfo.\(String(decoding: key, as: UTF8.self))")
        }
      }
    case "pause", "resume":
      guard w.count == 2, let vm = findVM(w[1]) else { return reply(false, "usage: pause|resume <vm>") }
      guard case .running = vm.state else { return reply(false, "\(vm.name) is not running") }
      if command == Array("pause".utf8) { pause(vm) } else { resume(vm) }
      reply(true, "")
    default:
      reply(false, "unknown command \(String(decoding: command, as: UTF8.self))")
    }
  }
}

// MARK: Pause and resume

/// The VM's vCPUs leave their host CPUs at their next exit and sleep until `resume`; guest
/// time stands still meanwhile.
func pause(_ vm: VM) {
  vm.lock.lock()
  if !vm.paused {
    vm.paused = true
    vm.pausedAtCount = keel_read_cntpct_el0()
    vm.clock?.pause(atHost: vm.pausedAtCount)
  }
  vm.lock.unlock()
  var kicks = CPUMask()
  Sched.lock.lock()
  for v in vm.vcpus { if case .running(let host) = Sched.policy.state(of: v.id) { kicks.insert(host) } }
  Sched.lock.unlock()
  for host in kicks { Host.cpus[host.index].kick() }
}

func resume(_ vm: VM) {
  vm.lock.lock()
  if vm.paused {
    let now = keel_read_cntpct_el0()
    // Guest time does not advance while paused: the virtual counter offset grows by the pause.
    // Each vCPU loads the new offset and timer deadlines when it next gets a CPU.
    vm.counterOffset &+= now &- vm.pausedAtCount
    vm.clock?.resume(atHost: now)
    vm.paused = false
  }
  vm.lock.unlock()
  deliver(vm, (1 << UInt64(vm.vcpus.count)) - 1)
}
#endif

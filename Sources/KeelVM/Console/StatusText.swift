import KeelSched

/// What the management console shows of one VM, gathered by the hypervisor under its locks and
/// turned into text here (the `stat` line, `inspect`, the status screen).
public struct VMStatus: Sendable {
  public var name: String
  /// The name in the viewer's scope (a tenant sees its VMs unqualified).
  public var localName: String
  public var virtualHost: String
  public var group: String
  /// `running`, `paused`, `resetting` or `stopped(reason)` (`VMLifecycle.description`).
  public var state: String
  public var isRunning: Bool
  public var isPaused: Bool
  public var definition: VMDefinition
  public var cpuTicks: UInt64
  public var entitledMHz: UInt64
  public var vcpuStates: [VCPUState]
  public var vcpuExits: [Int]
  public var exits: ExitCounters
  public var bootedAt: UInt64
  public var ramHostBase: UInt64
  /// CPU % of one host CPU since the screen last showed this VM.
  public var screenPercent: UInt64 = 0

  public init(name: String, localName: String, virtualHost: String, group: String, state: String, isRunning: Bool,
              isPaused: Bool, definition: VMDefinition, cpuTicks: UInt64, entitledMHz: UInt64, vcpuStates: [VCPUState],
              vcpuExits: [Int], exits: ExitCounters, bootedAt: UInt64, ramHostBase: UInt64) {
    self.name = name; self.localName = localName; self.virtualHost = virtualHost; self.group = group
    self.state = state; self.isRunning = isRunning; self.isPaused = isPaused; self.definition = definition
    self.cpuTicks = cpuTicks; self.entitledMHz = entitledMHz; self.vcpuStates = vcpuStates; self.vcpuExits = vcpuExits
    self.exits = exits; self.bootedAt = bootedAt; self.ramHostBase = ramHostBase
  }
}

/// The console's text, from status values and the host counter (`now`, `hz` ticks per second).
public enum StatusText {
  /// `stat <vm>`: one line of `key=value` pairs for programs (`keel stat`).
  public static func statLine(_ s: VMStatus, now: UInt64, hz: UInt64) -> String {
    let running = s.vcpuStates.filter { if case .running = $0 { return true } else { return false } }.count
    return "state=\(s.state) vhost=\(s.virtualHost) vcpus=\(s.vcpuStates.count) running=\(running)"
      + " cpu_ms=\(s.cpuTicks / (hz / 1000)) entitled_mhz=\(s.entitledMHz) memory_mib=\(s.definition.memoryMiB)"
      + " uptime_s=\((now &- s.bootedAt) / hz) exits=\(s.exits.total)"
      + " clock_ms=\(now / (hz / 1000))"
  }

  /// `inspect <vm>`: everything about one VM, a line each (the caller prefixes `keel: `).
  public static func inspect(_ s: VMStatus, now: UInt64, hz: UInt64) -> [String] {
    let def = s.definition
    var lines = [
      "\(s.name): \(s.state), virtual host \(s.virtualHost), group \(s.group), up \((now &- s.bootedAt) / hz) s",
      "\(s.name): cpu \(s.cpuTicks / (hz / 1000)) ms, entitled \(s.entitledMHz) MHz (shares \(def.shares.map { "\($0)" } ?? "normal"), min \(def.cpuMinMHz) MHz, max \(def.cpuMaxMHz.map { "\($0) MHz" } ?? "unlimited"))",
      "\(s.name): memory \(def.memoryMiB) MiB at host 0x\(String(s.ramHostBase, radix: 16)), exits \(s.exits.summary)",
    ]
    for (index, state) in s.vcpuStates.enumerated() {
      let place: String
      switch state {
      case .blocked(let until?): place = "sleeping, timer in \(until > now ? (until - now) / (hz / 1000) : 0) ms"
      default: place = describe(state)
      }
      lines.append("\(s.name): vcpu\(index): \(place), exits \(index < s.vcpuExits.count ? s.vcpuExits[index] : 0)")
    }
    return lines
  }

  /// What the console reports of a VM that stopped: why, its exits, and the CPU time it was charged.
  public static func stopReport(_ name: String, reason: String, exits: ExitCounters, cpuTicks: UInt64, hz: UInt64) -> [String] {
    ["\(name): stopped: \(reason)", "\(name): exits \(exits.summary)", "\(name): cpu \(cpuTicks / (hz / 1000)) ms (ticks \(cpuTicks))"]
  }

  /// A vCPU's scheduling state in words (diagnosis).
  public static func describe(_ state: VCPUState) -> String {
    switch state {
    case .off: return "off"
    case .runnable: return "runnable"
    case .running(let host): return "running on CPU \(host.index)"
    case .blocked(let until?): return "sleeping until 0x" + String(until, radix: 16)
    case .blocked(nil): return "sleeping until an interrupt"
    }
  }

  /// The status screen: a VT100/ANSI page a person reads in any terminal (QEMU's serial console,
  /// a terminal server, `keel run`'s console).
  public static func screen(_ vms: [VMStatus], scope: String?, hostCPUs: Int, cpuMHz: UInt32, now: UInt64, hz: UInt64) -> String {
    func pad(_ text: String, _ width: Int) -> String {
      let n = text.utf8.count
      return n >= width ? text : text + String(repeating: " ", count: width - n)
    }
    func clock(_ seconds: UInt64) -> String {
      let h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60
      return "\(h):" + (m < 10 ? "0" : "") + "\(m):" + (s < 10 ? "0" : "") + "\(s)"
    }
    var text = "\u{1B}[2J\u{1B}[H\u{1B}[7m " + pad("Keel hypervisor" + (scope.map { " / virtual host " + $0 } ?? "")
      + " | \(hostCPUs) host CPUs at \(cpuMHz) MHz | up \(clock(now / hz))", 98) + "\u{1B}[0m\r\n\r\n"
    text += "\u{1B}[1m" + pad(" VM", 18) + pad("virtual host", 14) + pad("state", 22) + pad("vCPUs", 7) + pad("CPU", 8) + pad("entitled", 11)
      + pad("memory", 10) + pad("uptime", 10) + "exits\u{1B}[0m\r\n"
    for s in vms {
      let color = s.isRunning ? (s.isPaused ? "\u{1B}[33m" : "\u{1B}[32m") : "\u{1B}[31m"
      text += " " + pad(s.localName, 17) + pad(s.virtualHost, 14) + color + pad(s.state, 22) + "\u{1B}[0m"
        + pad("\(s.vcpuStates.count)", 7) + pad("\(s.screenPercent)%", 8) + pad("\(s.entitledMHz) MHz", 11) + pad("\(s.definition.memoryMiB) MiB", 10)
        + pad(clock((now &- s.bootedAt) / hz), 10) + "\(s.exits.total)\r\n"
    }
    text += "\r\n Ctrl-\\ then a command and Enter: screen | focus <vm> (console input) | focus (none) | inspect <vm>\r\n"
    text += "   shutdown <vm> (power button) | poweroff <vm> (forced) | reset <vm> | start <vm> | pause/resume <vm> | help\r\n"
    return text
  }

  /// CPU use since the previous screen (or since the VM booted), in % of one host CPU.
  public static func percent(ticks: UInt64, last: (ticks: UInt64, at: UInt64), bootedAt: UInt64, now: UInt64) -> UInt64 {
    let since = max(bootedAt, last.at)
    let elapsed = max(now &- since, 1)
    let used = ticks >= last.ticks && last.at >= bootedAt ? ticks - last.ticks : ticks
    return used * 100 / elapsed
  }
}

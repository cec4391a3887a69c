/// A VM as the management console looks it up.
public struct ConsoleVM: Equatable, Sendable {
  public var id: Int
  /// Its configured name, as the bytes a person types.
  public var name: [UInt8]
  /// Its virtual host (root resource group).
  public var virtualHost: String

  public init(id: Int, name: [UInt8], virtualHost: String) {
    self.id = id; self.name = name; self.virtualHost = virtualHost
  }

  public var displayName: String { String(decoding: name, as: UTF8.self) }
}

/// What carrying out a management command needs from the hypervisor. VMs are named by id; the
/// hypervisor takes whatever locks each call needs.
public protocol ManagementHost {
  /// Every VM, in id order.
  func consoleVMs() -> [ConsoleVM]
  /// The VM's lifecycle as of now.
  func lifecycle(ofVM id: Int) -> VMLifecycle
  /// A line on the host console (`keel: ` is the host's to add).
  mutating func log(_ text: String)
  mutating func showScreen(_ vms: [Int], scope: [UInt8]?)
  mutating func showSchedulerState()
  func statLine(ofVM id: Int) -> String
  mutating func inspect(_ vm: Int)
  /// Console input (and, for a VM, raw output) goes to `vm`; nil: to no VM.
  mutating func focus(_ vm: Int?)
  mutating func pressPowerButton(_ vm: Int)
  /// `VMLifecycle.end` and what follows it; false if the VM was not running.
  mutating func endRunOfVM(_ vm: Int, _ next: RunState, reason: String) -> Bool
  mutating func bootVM(_ vm: Int)
  mutating func setGuestInfo(_ vm: Int, key: [UInt8], value: [UInt8]) -> Bool
  func guestInfo(_ vm: Int, key: [UInt8]) -> [UInt8]?
  mutating func pauseVM(_ vm: Int)
  mutating func resumeVM(_ vm: Int)
}

/// What a management command does: which VMs it sees, whether the VM's state allows it, and
/// what it replies. Protocol: docs/protocols.md.
public enum ManagementConsole {
  /// A VM's name as a virtual host's administrator knows it: the machine calls a name that two
  /// virtual hosts share `<virtual host>.<name>` (keel qualifies it), the tenant just `<name>`.
  public static func localName(_ name: String, scope: [UInt8]?) -> String {
    guard let scope else { return name }
    let prefix = String(decoding: scope, as: UTF8.self) + "."
    return name.hasPrefix(prefix) ? String(name.dropFirst(prefix.utf8.count)) : name
  }

  /// A VM by name (unique among the visible ones; in a virtual host's view, by the name it has
  /// there) or by `vm<id>`.
  public static func find(_ word: [UInt8], in vms: [ConsoleVM], scope: [UInt8]?) -> ConsoleVM? {
    let named = vms.filter { $0.name == word || Array(localName($0.displayName, scope: scope).utf8) == word }
    if named.count == 1 { return named[0] }
    return vms.first { Array("vm\($0.id)".utf8) == word }
  }

  /// The reply line `keel` waits for after every command.
  public static func reply(_ ok: Bool, _ text: String) -> String {
    "mgmt: " + (ok ? "ok" : "error") + (text.isEmpty ? "" : " " + text)
  }

  /// Carries out one command line (from `ManagementLine`) and replies.
  public static func run<Host: ManagementHost>(_ line: [UInt8], on host: inout Host) {
    let parsed = ManagementCommandParser.parse(line)
    func reply(_ ok: Bool, _ text: String) { host.log(Self.reply(ok, text)) }
    // `@tenant command …`: the tenant's administrator sees and controls only its own VMs.
    let scope = parsed.scope
    let all = host.consoleVMs()
    let scopeName = scope.map { String(decoding: $0, as: UTF8.self) }
    if let scope, let scopeName, !all.contains(where: { Array($0.virtualHost.utf8) == scope }) {
      return reply(false, "no virtual host \(scopeName)")
    }
    let vms = scope.map { s in all.filter { Array($0.virtualHost.utf8) == s } } ?? all
    var target: ConsoleVM? = nil
    if let name = parsed.target {
      target = find(name, in: vms, scope: scope)
      if target == nil {
        let place = scopeName.map { " in virtual host " + $0 } ?? ""
        return reply(false, "no VM named \(String(decoding: name, as: UTF8.self))\(place)")
      }
    }
    let vm = target?.id ?? -1
    let name = target?.displayName ?? ""
    func refused() { reply(false, "\(name) is \(host.lifecycle(ofVM: vm).description)") }
    switch parsed.command {
    case .screen:
      host.showScreen(vms.map { $0.id }, scope: scope)
      reply(true, "screen")
    case .help:
      reply(true, ManagementCommand.usageText)
    case .cpus:
      host.showSchedulerState()
      reply(true, "")
    case .status:
      reply(true, vms.map { "\(localName($0.displayName, scope: scope))=\(host.lifecycle(ofVM: $0.id).description)" }.joined(separator: " "))
    case .usage(let usage):
      reply(false, usage.text)
    case .unknown(let word):
      reply(false, "unknown command \(String(decoding: word, as: UTF8.self)); " + ManagementCommand.usageText)
    case .stat:
      reply(true, host.statLine(ofVM: vm))
    case .inspect:
      host.inspect(vm)
      reply(true, "")
    case .focus(nil):
      host.focus(nil)
      host.showScreen(vms.map { $0.id }, scope: scope)
      reply(true, "console input goes to no VM")
    case .focus:
      host.focus(vm)
      reply(true, "console input and output: \(name) (Ctrl-\\ focus to leave)")
    case .shutdown:
      let lifecycle = host.lifecycle(ofVM: vm)
      guard lifecycle.state == .running, !lifecycle.paused else { return refused() }
      host.pressPowerButton(vm)
      reply(true, "\(name): power button pressed")
    case .poweroff:
      guard host.endRunOfVM(vm, .stopping, reason: "powered off from the console") else { return refused() }
      reply(true, "")
    case .reset:
      guard host.endRunOfVM(vm, .resetting, reason: "reset from the console") else { return refused() }
      reply(true, "")
    case .start:
      let lifecycle = host.lifecycle(ofVM: vm)
      guard lifecycle.state == .stopping && lifecycle.finished else { return refused() }
      host.log("\(name): started from the console")
      host.bootVM(vm)
      reply(true, "")
    case .guestInfoSet(_, let key, let value):
      let stored = host.setGuestInfo(vm, key: key, value: value)
      reply(stored, stored ? "" : "guestinfo store full")
    case .guestInfoGet(_, let key):
      if let value = host.guestInfo(vm, key: key) {
        reply(true, String(decoding: ProtocolEscaping.escape(value), as: UTF8.self))
      } else {
        reply(false, "no value for guestinfo.\(String(decoding: key, as: UTF8.self))")
      }
    case .pause, .resume:
      guard host.lifecycle(ofVM: vm).state == .running else { return reply(false, "\(name) is not running") }
      if case .pause = parsed.command { host.pauseVM(vm) } else { host.resumeVM(vm) }
      reply(true, "")
    }
  }
}

/// Collects management command lines from the host console's input bytes: 0x1C (Ctrl-\)
/// starts a line, CR or LF ends it. Bytes that are not part of a command go to the focused VM.
/// A byte-for-byte state machine; the hypervisor keeps one for its console.
public struct ManagementLine: Sendable {
  public static let escape: UInt8 = 0x1C
  /// Longer lines are cut: further bytes are taken but dropped until the line ends.
  public static let maxLength = 4096

  public enum Input: Equatable, Sendable {
    /// Not part of a management command: the byte belongs to the guest.
    case passThrough
    /// Taken: part of a command still being typed (or the escape byte).
    case taken
    /// Taken, and it ended a command line (without its CR or LF).
    case line([UInt8])
  }

  public private(set) var collecting = false
  public private(set) var line: [UInt8] = []

  public init() {}

  /// The escape byte always (re)starts a line, dropping what was typed of the previous one.
  /// While collecting, CR or LF completes the line (so with CRLF the LF is not collected and
  /// passes through); other bytes are appended up to `maxLength`.
  public mutating func consume(_ byte: UInt8) -> Input {
    if byte == Self.escape { collecting = true; line.removeAll(); return .taken }
    guard collecting else { return .passThrough }
    if byte == 10 || byte == 13 {
      collecting = false
      let done = line
      line.removeAll()
      return .line(done)
    }
    if line.count < Self.maxLength { line.append(byte) }
    return .taken
  }
}

/// Which usage message a malformed command gets (`text`, after `error `).
public enum ManagementUsage: Equatable, Sendable {
  case stat, inspect, focus, shutdown, poweroff, reset, start, guestInfo, pauseResume

  public var text: String {
    switch self {
    case .stat: return "usage: stat <vm>"
    case .inspect: return "usage: inspect <vm>"
    case .focus: return "usage: focus [<vm>]"
    case .shutdown: return "usage: shutdown <vm>"
    case .poweroff: return "usage: poweroff <vm>"
    case .reset: return "usage: reset <vm>"
    case .start: return "usage: start <vm>"
    case .guestInfo: return "usage: guestinfo <vm> <key> [<value>]"
    case .pauseResume: return "usage: pause|resume <vm>"
    }
  }
}

/// A management console command. VM names are the raw bytes typed; looking them up (among the
/// VMs the scope lets the line see) is the hypervisor's.
public enum ManagementCommand: Equatable, Sendable {
  /// `screen`, `top`, or an empty command.
  case screen
  case help
  case cpus
  case status
  case stat(vm: [UInt8])
  case inspect(vm: [UInt8])
  /// `focus <vm>`, or `focus` alone (nil): console input goes to no VM.
  case focus(vm: [UInt8]?)
  case shutdown(vm: [UInt8])
  case poweroff(vm: [UInt8])
  case reset(vm: [UInt8])
  case start(vm: [UInt8])
  case pause(vm: [UInt8])
  case resume(vm: [UInt8])
  /// `key` without a `guestinfo.` prefix.
  case guestInfoGet(vm: [UInt8], key: [UInt8])
  /// `key` without a `guestinfo.` prefix; `value` unescaped (`ProtocolEscaping.unescape`).
  case guestInfoSet(vm: [UInt8], key: [UInt8], value: [UInt8])
  /// A known command with missing or extra arguments: reply `error <usage.text>`.
  case usage(ManagementUsage)
  /// Reply `error unknown command <name>; <usageText>`.
  case unknown(name: [UInt8])

  /// The `help` reply.
  public static let usageText = "commands: screen, status, stat <vm>, inspect <vm>, focus [<vm>], shutdown <vm>, poweroff <vm>, reset <vm>, start <vm>, pause <vm>, resume <vm>, guestinfo <vm> <key> [<value>]; prefix @<virtual host> to see only its VMs"
}

/// One parsed management line.
public struct ParsedCommand: Equatable, Sendable {
  /// `@<virtual host>` prefix: the line sees only that virtual host's VMs. The hypervisor
  /// replies `error no virtual host <scope>` (and does nothing else) when no VM belongs to it.
  public var scope: [UInt8]?
  /// For a command that takes a VM and has a VM word (even when it is a usage error): that word.
  /// The hypervisor replies `error no VM named <target>` (plus ` in virtual host <scope>` with a
  /// scope) instead of carrying out `command` when it names no visible VM.
  public var target: [UInt8]?
  public var command: ManagementCommand

  public init(scope: [UInt8]?, target: [UInt8]?, command: ManagementCommand) {
    self.scope = scope; self.target = target; self.command = command
  }
}

public enum ManagementCommandParser {
  /// Space-separated words, at most `max`: the last one takes the rest of the line, spaces
  /// included (and is empty when the line ends with a space right after word `max - 1`).
  public static func words(_ line: [UInt8], max: Int) -> [[UInt8]] {
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

  static func named(_ word: [UInt8], _ name: StaticString) -> Bool {
    guard word.count == name.utf8CodeUnitCount else { return false }
    var i = 0
    let p = name.utf8Start
    while i < word.count {
      if word[i] != p[i] { return false }
      i += 1
    }
    return true
  }

  /// Commands whose second word names a VM.
  static func takesVM(_ word: [UInt8]) -> Bool {
    named(word, "stat") || named(word, "inspect") || named(word, "focus") || named(word, "shutdown")
      || named(word, "poweroff") || named(word, "reset") || named(word, "start") || named(word, "guestinfo")
      || named(word, "pause") || named(word, "resume")
  }

  /// A completed line (from `ManagementLine`), as the console's `run` reads it.
  public static func parse(_ line: [UInt8]) -> ParsedCommand {
    var w = words(line, max: 5)
    var scope: [UInt8]? = nil
    if let first = w.first, first.first == UInt8(ascii: "@") {
      scope = Array(first.dropFirst())
      w.removeFirst()
    }
    guard let name = w.first else { return ParsedCommand(scope: scope, target: nil, command: .screen) }
    let target: [UInt8]? = w.count >= 2 && takesVM(name) ? w[1] : nil
    func result(_ command: ManagementCommand) -> ParsedCommand {
      ParsedCommand(scope: scope, target: target, command: command)
    }
    func vmCommand(_ make: ([UInt8]) -> ManagementCommand, _ usage: ManagementUsage) -> ParsedCommand {
      result(target.map(make) ?? .usage(usage))
    }
    if named(name, "screen") || named(name, "top") { return result(.screen) }
    if named(name, "help") { return result(.help) }
    if named(name, "cpus") { return result(.cpus) }
    if named(name, "status") { return result(.status) }
    if named(name, "stat") { return vmCommand({ .stat(vm: $0) }, .stat) }
    if named(name, "inspect") { return vmCommand({ .inspect(vm: $0) }, .inspect) }
    if named(name, "focus") { return result(.focus(vm: target)) }
    if named(name, "shutdown") { return vmCommand({ .shutdown(vm: $0) }, .shutdown) }
    if named(name, "poweroff") { return vmCommand({ .poweroff(vm: $0) }, .poweroff) }
    if named(name, "reset") { return vmCommand({ .reset(vm: $0) }, .reset) }
    if named(name, "start") { return vmCommand({ .start(vm: $0) }, .start) }
    if named(name, "guestinfo") {
      guard w.count >= 3, let vm = target else { return result(.usage(.guestInfo)) }
      var key = w[2]
      let prefix = Array("guestinfo.".utf8)
      if key.starts(with: prefix) { key.removeFirst(prefix.count) }
      if w.count >= 4 {
        let value = ProtocolEscaping.unescape(Array(w[3...].joined(separator: [32])))
        return result(.guestInfoSet(vm: vm, key: key, value: value))
      }
      return result(.guestInfoGet(vm: vm, key: key))
    }
    if named(name, "pause") || named(name, "resume") {
      guard w.count == 2, let vm = target else { return result(.usage(.pauseResume)) }
      return result(named(name, "pause") ? .pause(vm: vm) : .resume(vm: vm))
    }
    return result(.unknown(name: name))
  }
}

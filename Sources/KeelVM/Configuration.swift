/// One VM as the `keel` CLI describes it to the hypervisor (the configuration module of
/// docs/protocols.md). Text in, values out; no Foundation, so the image parses it too.
public struct VMDefinition: Equatable, Sendable {
  public enum TimeMode: Equatable, Sendable { case passthrough, trapped }

  public var name: [UInt8]
  public var cpus = 1
  public var memoryMiB: UInt64 = 256
  public var kernelModule: UInt64? = nil
  public var initrdModule: UInt64? = nil
  public var loadAddress: UInt64? = nil
  public var timeMode = TimeMode.passthrough
  public var timeFrequency: UInt64? = nil
  public var hypervisorNode: [UInt8]? = nil
  public var guestInfo: [(key: [UInt8], value: [UInt8])] = []
  /// CPU allocation (ESXi `sched.cpu.*`): resource group, explicit share count (nil: normal,
  /// 1000 per vCPU), reservation and limit in MHz-equivalent (`cpu-mhz` per host CPU).
  public var group: [UInt8]? = nil
  public var shares: UInt32? = nil
  public var cpuMinMHz: UInt32 = 0
  public var cpuMaxMHz: UInt32? = nil

  public init(name: [UInt8]) { self.name = name }

  public static func == (a: VMDefinition, b: VMDefinition) -> Bool {
    a.name == b.name && a.cpus == b.cpus && a.memoryMiB == b.memoryMiB && a.kernelModule == b.kernelModule
      && a.initrdModule == b.initrdModule && a.loadAddress == b.loadAddress && a.timeMode == b.timeMode
      && a.timeFrequency == b.timeFrequency && a.hypervisorNode == b.hypervisorNode
      && a.group == b.group && a.shares == b.shares && a.cpuMinMHz == b.cpuMinMHz && a.cpuMaxMHz == b.cpuMaxMHz
      && a.guestInfo.count == b.guestInfo.count
      && zip(a.guestInfo, b.guestInfo).allSatisfy { $0.key == $1.key && $0.value == $1.value }
  }
}

/// A resource group (ESXi resource pool); one without a parent is the root of a virtual host.
public struct GroupDefinition: Equatable, Sendable {
  public var name: [UInt8]
  public var parent: [UInt8]? = nil
  /// nil: normal (4000, the weight of a normal 4-vCPU VM).
  public var shares: UInt32? = nil
  public var cpuMinMHz: UInt32 = 0
  public var cpuMaxMHz: UInt32? = nil
  /// ESXi's expandable reservation: children may reserve beyond the group's own `min`.
  public var expandable = true

  public init(name: [UInt8]) { self.name = name }
}

/// Everything the configuration module describes.
public struct MachineDefinition: Equatable, Sendable {
  /// MHz-equivalent of one host CPU, the unit of every `min`/`max`.
  public var cpuMHz: UInt32 = 1000
  public var groups: [GroupDefinition] = []
  public var vms: [VMDefinition] = []
  public init() {}
}

public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
  public let line: Int
  public let message: String
  public var description: String { "configuration line \(line): \(message)" }
}

public enum ConfigurationModule {
  public static let maxSize = 64 * 1024

  /// The VMs of the configuration (see `parseMachine` for groups and the CPU unit).
  public static func parse(_ text: UnsafeRawBufferPointer) throws(ConfigurationError) -> [VMDefinition] {
    try parseMachine(text).vms
  }

  /// Parses the text up to the first NUL (or the end).
  public static func parseMachine(_ text: UnsafeRawBufferPointer) throws(ConfigurationError) -> MachineDefinition {
    var machine = MachineDefinition()
    var current: VMDefinition? = nil
    var group: GroupDefinition? = nil
    var lineNumber = 0
    var line: [UInt8] = []
    var index = 0
    let count = min(text.count, maxSize)
    while index <= count {
      let byte: UInt8 = index < count ? text[index] : 10
      index += 1
      if byte == 0 { index = count + 1 }
      if byte != 10 && byte != 0 { line.append(byte); continue }
      lineNumber += 1
      defer { line.removeAll(keepingCapacity: true) }
      let words = splitFirst(trim(line))
      if words.key.isEmpty || words.key[0] == UInt8(ascii: "#") { continue }
      let key = words.key, value = words.rest
      func fail(_ message: String) -> ConfigurationError { ConfigurationError(line: lineNumber, message: message) }
      // Inside a vm block, `group` names the VM's resource group; elsewhere it opens a group block.
      if key == Array("vm".utf8) || (key == Array("group".utf8) && current == nil) {
        guard current == nil && group == nil else { throw fail("block inside a block (missing end)") }
        guard !value.isEmpty, value.count <= 32 else { throw fail("\(String(decoding: key, as: UTF8.self)) needs a name of 1 to 32 characters") }
        if key == Array("vm".utf8) { current = VMDefinition(name: value) } else { group = GroupDefinition(name: value) }
        continue
      }
      if key == Array("cpu-mhz".utf8) && current == nil && group == nil {
        guard let n = number(value), n >= 1, n <= 1_000_000 else { throw fail("cpu-mhz must be 1 to 1000000") }
        machine.cpuMHz = UInt32(n)
        continue
      }
      if var g = group {
        switch String(decoding: key, as: UTF8.self) {
        case "end":
          guard !machine.groups.contains(where: { $0.name == g.name }) else { throw fail("group defined twice") }
          if let parent = g.parent, !machine.groups.contains(where: { $0.name == parent }) {
            throw fail("parent group \(String(decoding: parent, as: UTF8.self)) is not defined before this group")
          }
          machine.groups.append(g)
          group = nil
          continue
        case "parent": g.parent = value
        case "shares": g.shares = try shares(value, lineNumber)
        case "cpu.min": g.cpuMinMHz = try mhz(value, lineNumber)
        case "cpu.max": g.cpuMaxMHz = try mhz(value, lineNumber)
        case "expandable":
          guard value == Array("yes".utf8) || value == Array("no".utf8) else { throw fail("expandable must be yes or no") }
          g.expandable = value == Array("yes".utf8)
        default:
          throw fail("unknown group setting \(String(decoding: key, as: UTF8.self))")
        }
        group = g
        continue
      }
      guard var vm = current else { throw fail("setting outside a vm block") }
      switch String(decoding: key, as: UTF8.self) {
      case "end":
        guard vm.kernelModule != nil else { throw fail("vm has no kernel") }
        if let name = vm.group, !machine.groups.contains(where: { $0.name == name }) {
          throw fail("group \(String(decoding: name, as: UTF8.self)) is not defined before this vm")
        }
        machine.vms.append(vm)
        current = nil
        continue
      case "cpus":
        guard let n = number(value), n >= 1, n <= 8 else { throw fail("cpus must be 1 to 8") }
        vm.cpus = Int(n)
      case "memory":
        guard let n = number(value), n >= 16, n <= 1 << 20 else { throw fail("memory must be 16 MiB or more") }
        vm.memoryMiB = n
      case "kernel": vm.kernelModule = try address(value, lineNumber)
      case "initrd": vm.initrdModule = try address(value, lineNumber)
      case "load": vm.loadAddress = try address(value, lineNumber)
      case "time.mode":
        switch String(decoding: value, as: UTF8.self) {
        case "passthrough": vm.timeMode = .passthrough
        case "trapped": vm.timeMode = .trapped
        default: throw fail("time.mode must be passthrough or trapped")
        }
      case "time.frequency":
        guard let n = number(value), n >= 1_000_000, n <= 1_000_000_000 else {
          throw fail("time.frequency must be 1 MHz to 1 GHz")
        }
        vm.timeFrequency = n
      case "hypervisor-node": vm.hypervisorNode = value
      case "guestinfo":
        let kv = splitFirst(value[...])
        guard !kv.key.isEmpty else { throw fail("guestinfo needs a key") }
        vm.guestInfo.append((key: kv.key, value: ProtocolEscaping.unescape(kv.rest)))
      case "group": vm.group = value
      case "shares": vm.shares = try shares(value, lineNumber)
      case "cpu.min": vm.cpuMinMHz = try mhz(value, lineNumber)
      case "cpu.max": vm.cpuMaxMHz = try mhz(value, lineNumber)
      default:
        throw fail("unknown setting \(String(decoding: key, as: UTF8.self))")
      }
      current = vm
    }
    if current != nil || group != nil { throw ConfigurationError(line: lineNumber, message: "block not closed with end") }
    return machine
  }

  static func shares(_ v: [UInt8], _ line: Int) throws(ConfigurationError) -> UInt32 {
    guard let n = number(v), n >= 1, n <= 1_000_000 else { throw ConfigurationError(line: line, message: "shares must be 1 to 1000000") }
    return UInt32(n)
  }

  static func mhz(_ v: [UInt8], _ line: Int) throws(ConfigurationError) -> UInt32 {
    guard let n = number(v), n <= 1 << 30 else { throw ConfigurationError(line: line, message: "not a MHz figure") }
    return UInt32(n)
  }

  static func trim(_ s: [UInt8]) -> ArraySlice<UInt8> {
    var a = s.startIndex, b = s.endIndex
    while a < b && (s[a] == 32 || s[a] == 9 || s[a] == 13) { a += 1 }
    while b > a && (s[b - 1] == 32 || s[b - 1] == 9 || s[b - 1] == 13) { b -= 1 }
    return s[a..<b]
  }

  static func splitFirst(_ s: ArraySlice<UInt8>) -> (key: [UInt8], rest: [UInt8]) {
    guard let space = s.firstIndex(where: { $0 == 32 || $0 == 9 }) else { return (Array(s), []) }
    var rest = s[space...]
    while let f = rest.first, f == 32 || f == 9 { rest = rest.dropFirst() }
    return (Array(s[..<space]), Array(rest))
  }

  static func address(_ v: [UInt8], _ line: Int) throws(ConfigurationError) -> UInt64 {
    guard let n = number(v) else { throw ConfigurationError(line: line, message: "not an address") }
    return n
  }

  /// Decimal or 0x-prefixed hexadecimal.
  public static func number(_ v: [UInt8]) -> UInt64? {
    var digits = v[...]
    var radix: UInt64 = 10
    if digits.count > 2 && digits[digits.startIndex] == UInt8(ascii: "0") && (digits[digits.startIndex + 1] | 0x20) == UInt8(ascii: "x") {
      radix = 16
      digits = digits.dropFirst(2)
    }
    guard !digits.isEmpty else { return nil }
    var n: UInt64 = 0
    for c in digits {
      let d: UInt64
      switch c {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt64(c - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: d = UInt64(c - UInt8(ascii: "a") + 10)
      case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: d = UInt64(c - UInt8(ascii: "A") + 10)
      default: return nil
      }
      let (m, o1) = n.multipliedReportingOverflow(by: radix)
      let (s, o2) = m.addingReportingOverflow(d)
      if o1 || o2 { return nil }
      n = s
    }
    return n
  }
}

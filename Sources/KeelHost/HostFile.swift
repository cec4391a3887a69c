/// `keel run --host HOST.cfg`: the virtual hosts, their resource pools and their VMs, in `.vmx`
/// syntax (docs/hosts.md). Pools are named per virtual host; `.vmx` files name theirs with `keel.group`.
public struct HostFile: Equatable, Sendable {
  public struct VMEntry: Equatable, Sendable {
    public var virtualHost: String
    /// Absolute (relative paths are taken from the host file's folder).
    public var path: String
    public var line: Int
    public var key: String
  }

  public var fileName: String
  public var resources: HostResources
  public var vms: [VMEntry]
  /// Pool names (as written) of each virtual host, for resolving `keel.group`.
  public var pools: [String: [String]]
  public var virtualHosts: [String] { resources.groups.filter { $0.parent == nil }.map(\.name) }

  /// `[A-Za-z0-9_-]{1,32}`: no dots, which separate the parts of a key.
  public static func isValidName(_ name: String) -> Bool {
    (1...32).contains(name.utf8.count) && name.utf8.allSatisfy { VMXFile.isKeyByte($0) && $0 != UInt8(ascii: ".") && $0 != UInt8(ascii: ":") }
  }

  private struct Draft {
    var group: HostResources.Group
    var parentEntry: VMXFile.Entry?
    var firstEntry: VMXFile.Entry
  }

  public init(vmx: VMXFile, directory: String) throws(VMXError) {
    func fail(_ entry: VMXFile.Entry, _ message: String) -> VMXError {
      VMXError(fileName: vmx.fileName, line: entry.line, key: entry.key, message: message)
    }
    func mhz(_ entry: VMXFile.Entry, minimum: Int) throws(VMXError) -> Int {
      guard let value = Int(entry.value.trimmingSpaces()), value >= minimum else {
        throw fail(entry, "\(quoted(entry.value)) is not a number of MHz (\(minimum) or more)")
      }
      return value
    }
    fileName = vmx.fileName
    resources = HostResources()
    vms = []
    pools = [:]
    var hosts: [(name: String, draft: Draft, pools: [(name: String, draft: Draft)])] = []

    for entry in vmx.entries {
      let key = VMXFile.foldCase(entry.key)
      if key == "host.cpumhz" {
        resources.cpuMHz = try mhz(entry, minimum: 1)
        guard resources.cpuMHz <= 1_000_000 else { throw fail(entry, "\(resources.cpuMHz) MHz is more than 1000000") }
        continue
      }
      if key == ".encoding" { continue }
      let parts = entry.key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
      guard parts.count >= 3, VMXFile.foldCase(parts[0]) == "vhost" else { throw fail(entry, "unknown key") }
      let host = parts[1]
      guard Self.isValidName(host) else { throw fail(entry, "\(quoted(host)) is not a valid virtual host name (1–32 of A-Z a-z 0-9 _ -)") }
      var hostIndex = hosts.firstIndex { $0.name == host }
      if hostIndex == nil {
        hosts.append((host, Draft(group: .init(name: host), firstEntry: entry), []))
        hostIndex = hosts.count - 1
      }
      var setting = parts[2...].joined(separator: ".")
      var pool: String?
      if VMXFile.foldCase(parts[2]) == "pool" && parts.count >= 5 {
        pool = parts[3]
        setting = parts[4...].joined(separator: ".")
        guard Self.isValidName(pool!) else { throw fail(entry, "\(quoted(pool!)) is not a valid pool name (1–32 of A-Z a-z 0-9 _ -)") }
        guard pool != host else { throw fail(entry, "a pool cannot have its virtual host's name") }
        let name = host + "/" + pool!
        guard name.utf8.count <= 32 else { throw fail(entry, "\(quoted(name)) is longer than 32 bytes; shorten the virtual host or pool name") }
        if !hosts[hostIndex!].pools.contains(where: { $0.name == pool }) {
          hosts[hostIndex!].pools.append((pool!, Draft(group: .init(name: name, parent: host), firstEntry: entry)))
        }
      }
      let folded = VMXFile.foldCase(setting)
      if pool == nil, folded.hasPrefix("vm"), folded.count > 2, folded.dropFirst(2).allSatisfy(\.isASCIIDigit) {
        guard !entry.value.isEmpty else { throw fail(entry, "empty path") }
        let path = entry.value.hasPrefix("/") ? entry.value : (directory.hasSuffix("/") ? directory : directory + "/") + entry.value
        vms.append(VMEntry(virtualHost: host, path: path, line: entry.line, key: entry.key))
        continue
      }
      var draft = pool.map { p in hosts[hostIndex!].pools.first { $0.name == p }!.draft } ?? hosts[hostIndex!].draft
      switch folded {
      case "present":
        guard entry.value.lowercased() == "true" else { throw fail(entry, "only \"TRUE\" is meaningful; remove the keys of what you do not want") }
      case "shares":
        switch entry.value.lowercased() {
        case "low": draft.group.shares = .low
        case "normal": draft.group.shares = .normal
        case "high": draft.group.shares = .high
        default:
          guard let n = Int(entry.value), n > 0 else { throw fail(entry, "\(quoted(entry.value)) is not low, normal, high or a positive number") }
          draft.group.shares = .custom(n)
        }
      case "cpu.min": draft.group.cpuMinMHz = try mhz(entry, minimum: 0)
      case "cpu.max": draft.group.cpuMaxMHz = try mhz(entry, minimum: 1)
      case "expandablereservation":
        switch entry.value.lowercased() {
        case "true": draft.group.expandableReservation = true
        case "false": draft.group.expandableReservation = false
        default: throw fail(entry, "\(quoted(entry.value)) is not TRUE or FALSE")
        }
      case "parent" where pool != nil:
        guard entry.value == host || hosts[hostIndex!].pools.contains(where: { $0.name == entry.value })
          || vmx.entries.contains(where: { VMXFile.foldCase($0.key).hasPrefix(VMXFile.foldCase("vhost.\(host).pool.\(entry.value).")) })
        else { throw fail(entry, "unknown pool \(quoted(entry.value)) in virtual host \(host)") }
        draft.parentEntry = entry
        draft.group.parent = entry.value == host ? host : host + "/" + entry.value
      default:
        throw fail(entry, "unknown key")
      }
      if let pool { hosts[hostIndex!].pools[hosts[hostIndex!].pools.firstIndex { $0.name == pool }!].draft = draft } else { hosts[hostIndex!].draft = draft }
    }

    // Parents before children: the configuration module and admission both want that order.
    for host in hosts {
      resources.groups.append(host.draft.group)
      pools[host.name] = host.pools.map(\.name)
      var placed: Set<String> = [host.name]
      var pending = host.pools.map(\.draft)
      while !pending.isEmpty {
        let ready = pending.filter { placed.contains($0.group.parent!) }
        guard !ready.isEmpty else {
          let draft = pending[0]
          throw fail(draft.parentEntry ?? draft.firstEntry, "the chain of parents of pool \(draft.group.name) loops back to it")
        }
        for draft in ready { resources.groups.append(draft.group); placed.insert(draft.group.name) }
        pending.removeAll { placed.contains($0.group.name) }
      }
    }
  }

  /// The configuration module's group for a VM of `virtualHost` whose `keel.group` is `group`:
  /// the virtual host itself when nil or its own name, else one of its pools.
  public func groupName(_ group: String?, in virtualHost: String) -> String? {
    guard let group, group != virtualHost else { return virtualHost }
    return pools[virtualHost]?.contains(group) == true ? virtualHost + "/" + group : nil
  }

  /// The virtual host of a VM named on the command line rather than in the host file: the one
  /// owning its `keel.group`, or the only one. nil when there is none; a message when it is unclear.
  /// - Throws: the message for the VM's `keel.group` key.
  public func virtualHost(forGroup group: String?) throws(HostChoiceProblem) -> String? {
    let hosts = virtualHosts
    guard let group else {
      if hosts.count <= 1 { return hosts.first }
      throw HostChoiceProblem(description: "which virtual host? \(fileName) declares \(hosts.joined(separator: ", ")); list the VM there as vhost.<name>.vm<N> or set keel.group")
    }
    let owners = hosts.filter { groupName(group, in: $0) != nil }
    if owners.count == 1 { return owners[0] }
    if owners.isEmpty { throw HostChoiceProblem(description: "unknown resource group \(quoted(group)) (\(fileName) declares none of that name)") }
    throw HostChoiceProblem(description: "resource group \(quoted(group)) exists in several virtual hosts (\(owners.joined(separator: ", "))); list the VM in \(fileName) as vhost.<name>.vm<N>")
  }

  public struct HostChoiceProblem: Error, Equatable, Sendable { public var description: String }
}

extension Character {
  fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

import KeelVM
import Testing
@testable import KeelHost

@Suite struct HypervisorConfigModuleTests {
  /// The config module as the hypervisor would read it: `vm` blocks of `key rest-of-line`.
  func blocks(_ text: String) -> [[String: [String]]] {
    var result: [[String: [String]]] = []
    for line in text.split(separator: "\n").map(String.init) where !line.hasPrefix("#") {
      let key = line.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
      let rest = line.dropFirst(key.count).drop { $0 == " " }
      if key == "vm" { result.append([:]) }
      guard !result.isEmpty else { continue }  // machine-wide lines and group blocks come first
      result[result.count - 1][key, default: []].append(String(rest))
    }
    return result
  }

  @Test func severalVMsEachWithTheirBlobs() throws {
    let web = VMConfiguration(
      name: "web", cpus: 2, memoryMiB: 256, loadAddress: 0x4008_0000, timeMode: .trapped, timeFrequencyHz: 62_500_000,
      hypervisorNode: "vmware", guestInfo: [.init(key: "ip", value: "10.0.0.2"), .init(key: "motd", value: " hi\\there \n"), .init(key: "empty", value: "")])
    let db = VMConfiguration(name: "db", cpus: 1, memoryMiB: 64)
    let layout = MachineLayout(vms: [
      .init(kernelSize: 3 << 20, initrdSize: 1 << 20, memoryMiB: 256), .init(kernelSize: 4096, initrdSize: nil, memoryMiB: 64),
    ])
    let text = ConfigurationModule.text(vms: [web, db], layout: layout)
    let parsed = blocks(text)
    #expect(text.contains("\ncpu-mhz 1000\n"))
    #expect(parsed.count == 2)
    #expect(parsed[0]["vm"] == ["web"])
    #expect(parsed[0]["cpus"] == ["2"])
    #expect(parsed[0]["memory"] == ["256"])
    #expect(parsed[0]["kernel"] == ["0x" + String(layout.kernelAddresses[0], radix: 16)])
    #expect(parsed[0]["initrd"] == ["0x" + String(layout.initrdAddresses[0]!, radix: 16)])
    #expect(parsed[0]["load"] == ["0x40080000"])
    #expect(parsed[0]["time.mode"] == ["trapped"])
    #expect(parsed[0]["time.frequency"] == ["62500000"])
    #expect(parsed[0]["hypervisor-node"] == ["vmware"])
    #expect(parsed[0]["guestinfo"] == ["ip 10.0.0.2", "motd \\shi\\\\there \\n", "empty"])
    #expect(parsed[0]["end"] == [""])
    #expect(parsed[1]["vm"] == ["db"])
    #expect(parsed[1]["kernel"] == ["0x" + String(layout.kernelAddresses[1], radix: 16)])
    // Optional lines are left out, so the hypervisor's defaults apply.
    for key in ["initrd", "load", "time.mode", "time.frequency", "hypervisor-node", "guestinfo"] { #expect(parsed[1][key] == nil) }
    #expect(text.hasSuffix("end\n"))
    // Guestinfo values come back exactly after the hypervisor's unescaping.
    let motd = parsed[0]["guestinfo"]![1].dropFirst("motd ".count)
    #expect(ProtocolEscaping.unescape(String(motd)) == " hi\\there \n")
  }

  @Test func bytesEndInNUL() throws {
    let layout = MachineLayout(vms: [.init(kernelSize: 1, initrdSize: nil, memoryMiB: 16)])
    let vms = [VMConfiguration(name: "vm0")]
    let bytes = try ConfigurationModule.bytes(vms: vms, layout: layout)
    #expect(bytes.last == 0)
    #expect(bytes.dropLast() == ArraySlice(ConfigurationModule.text(vms: vms, layout: layout).utf8))
    #expect(!bytes.dropLast().contains(0))
  }

  @Test func tooMuchGuestinfoIsRefused() {
    let big = (0..<200).map { VMConfiguration.GuestInfoEntry(key: "k\($0)", value: String(repeating: "x", count: 400)) }
    let layout = MachineLayout(vms: [.init(kernelSize: 1, initrdSize: nil, memoryMiB: 16)])
    #expect(throws: ConfigurationModule.Problem.self) {
      try ConfigurationModule.bytes(vms: [VMConfiguration(name: "vm0", guestInfo: big)], layout: layout)
    }
  }

  @Test func configSitsAboveEveryBlob() {
    let layout = MachineLayout(vms: [
      .init(kernelSize: 7 << 20, initrdSize: 5 << 20, memoryMiB: 16), .init(kernelSize: 1, initrdSize: 1, memoryMiB: 16),
    ])
    let blobEnds = [layout.kernelAddresses[0] + (8 << 20), layout.initrdAddresses[0]! + (6 << 20),
                    layout.kernelAddresses[1] + (2 << 20), layout.initrdAddresses[1]! + (2 << 20)]
    #expect(blobEnds.allSatisfy { $0 <= layout.configAddress })
    #expect(layout.configAddress % RunLimits.blobAlignment == 0)
    #expect(layout.kernelAddresses[0] == RunLimits.kernelBlobAddress)
  }

  // MARK: Round trips through the hypervisor's parser (KeelVM)

  func parse(_ text: String) throws -> MachineDefinition {
    try (Array(text.utf8) + [0]).withUnsafeBytes { buffer in try ConfigurationModule.parseMachine(buffer) }
  }

  static let tenants = HostResources(cpuMHz: 2000, groups: [
    .init(name: "tenantA", shares: .high, cpuMinMHz: 1000),
    .init(name: "tenantA/front", parent: "tenantA", shares: .custom(1234), cpuMinMHz: 800, expandableReservation: false),
    .init(name: "tenantA/web", parent: "tenantA/front", cpuMaxMHz: 1500),
    .init(name: "tenantB", shares: .low),
    .init(name: "tenantB/batch", parent: "tenantB"),
  ])

  @Test func groupsAndSchedulingRoundTripThroughTheHypervisorsParser() throws {
    let vms = [
      VMConfiguration(name: "web", cpus: 2, group: "tenantA/web", cpuShares: .high, cpuMinMHz: 200, cpuMaxMHz: 1500),
      VMConfiguration(name: "db", cpus: 3, cpuShares: .low),
      VMConfiguration(name: "plain"),
    ]
    let layout = MachineLayout(vms: vms.map { _ in .init(kernelSize: 4096, initrdSize: nil, memoryMiB: 64) })
    let text = ConfigurationModule.text(vms: vms, layout: layout, resources: Self.tenants)
    #expect(text.contains("\ngroup tenantA/web\nshares 4000\ncpu.min 200\ncpu.max 1500\nend\n"))

    let machine = try parse(text)

    #expect(machine.cpuMHz == 2000)
    #expect(machine.groups.map { String(decoding: $0.name, as: UTF8.self) } == ["tenantA", "tenantA/front", "tenantA/web", "tenantB", "tenantB/batch"])
    #expect(machine.groups.map { $0.parent.map { String(decoding: $0, as: UTF8.self) } } == [nil, "tenantA", "tenantA/front", nil, "tenantB"])
    // Levels become ESXi's numbers: groups 2000/4000/8000, VMs 500/1000/2000 per vCPU.
    #expect(machine.groups.map(\.shares) == [8000, 1234, 4000, 2000, 4000])
    #expect(machine.groups.map(\.cpuMinMHz) == [1000, 800, 0, 0, 0])
    #expect(machine.groups.map(\.cpuMaxMHz) == [nil, nil, 1500, nil, nil])
    #expect(machine.groups.map(\.expandable) == [true, false, true, true, true])
    #expect(machine.vms.map { String(decoding: $0.name, as: UTF8.self) } == ["web", "db", "plain"])
    #expect(machine.vms.map(\.shares) == [4000, 1500, nil])
    #expect(machine.vms.map(\.cpuMinMHz) == [200, 0, 0])
    #expect(machine.vms.map(\.cpuMaxMHz) == [1500, nil, nil])
    #expect(machine.vms.map(\.cpus) == [2, 3, 1])
    #expect(machine.vms.map { $0.group.map { String(decoding: $0, as: UTF8.self) } } == ["tenantA/web", nil, nil])
  }

  @Test func withoutHostResourcesTheUnitIsTheDefaultAndThereAreNoGroups() throws {
    let layout = MachineLayout(vms: [.init(kernelSize: 4096, initrdSize: nil, memoryMiB: 64)])
    let machine = try parse(ConfigurationModule.text(vms: [VMConfiguration(name: "vm0")], layout: layout))
    #expect(machine.cpuMHz == 1000)
    #expect(machine.groups.isEmpty)
    #expect(machine.vms.count == 1 && machine.vms[0].shares == nil && machine.vms[0].cpuMinMHz == 0 && machine.vms[0].cpuMaxMHz == nil)
  }
}

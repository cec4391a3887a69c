import Foundation
import Testing
@testable import KeelHost

@Suite struct HostConfigurationTests {
  static let hostText = """
    host.cpuMHz = "2000"
    vhost.tenantA.shares = "high"
    vhost.tenantA.cpu.min = "1000"
    vhost.tenantA.vm0 = "web.vmx"
    vhost.tenantA.pool.web.parent = "front"
    vhost.tenantA.pool.web.cpu.max = "1500"
    vhost.tenantA.pool.front.expandableReservation = "FALSE"
    vhost.tenantA.pool.front.cpu.min = "800"
    vhost.tenantA.pool.front.shares = "1234"
    vhost.tenantB.pool.batch.present = "TRUE"
    vhost.tenantB.vm1 = "/abs/batch.vmx"
    """

  func host(_ text: String, directory: String = "/dir") throws(VMXError) -> HostFile {
    try HostFile(vmx: VMXFile.parse(text, fileName: "host.cfg"), directory: directory)
  }

  func hostError(_ text: String) -> VMXError? {
    do { _ = try host(text); return nil } catch { return error }
  }

  @Test func virtualHostsPoolsAndVMs() throws {
    let file = try host(Self.hostText)
    #expect(file.resources.cpuMHz == 2000)
    // Parents before children, per virtual host, whatever the file order.
    #expect(file.resources.groups.map(\.name) == ["tenantA", "tenantA/front", "tenantA/web", "tenantB", "tenantB/batch"])
    #expect(file.resources.groups[0] == .init(name: "tenantA", shares: .high, cpuMinMHz: 1000))
    #expect(file.resources.groups[1] == .init(name: "tenantA/front", parent: "tenantA", shares: .custom(1234), cpuMinMHz: 800, expandableReservation: false))
    #expect(file.resources.groups[2] == .init(name: "tenantA/web", parent: "tenantA/front", cpuMaxMHz: 1500))
    #expect(file.resources.groups[4] == .init(name: "tenantB/batch", parent: "tenantB"))
    #expect(file.vms.map(\.path) == ["/dir/web.vmx", "/abs/batch.vmx"])
    #expect(file.vms.map(\.virtualHost) == ["tenantA", "tenantB"])
    #expect(file.groupName(nil, in: "tenantA") == "tenantA")
    #expect(file.groupName("tenantA", in: "tenantA") == "tenantA")
    #expect(file.groupName("web", in: "tenantA") == "tenantA/web")
    #expect(file.groupName("batch", in: "tenantA") == nil)
    #expect(try file.virtualHost(forGroup: "batch") == "tenantB")
    #expect(throws: HostFile.HostChoiceProblem.self) { try file.virtualHost(forGroup: nil) }
    #expect(throws: HostFile.HostChoiceProblem.self) { try file.virtualHost(forGroup: "nope") }
  }

  @Test func errorsNameTheFileLineAndKey() {
    let cases: [(String, Int, String, String)] = [
      ("host.cpuMHz = \"0\"", 1, "host.cpuMHz", "not a number of MHz"),
      ("\nvhost.a.color = \"red\"", 2, "vhost.a.color", "unknown key"),
      ("pool.a.shares = \"low\"", 1, "pool.a.shares", "unknown key"),
      ("vhost.a.shares = \"lots\"", 1, "vhost.a.shares", "not low, normal, high"),
      ("vhost.a.pool.b.parent = \"c\"", 1, "vhost.a.pool.b.parent", "unknown pool \"c\" in virtual host a"),
      ("vhost.a.pool.b.parent = \"c\"\nvhost.a.pool.c.parent = \"b\"", 1, "vhost.a.pool.b.parent", "loops back"),
      ("vhost.a.pool.b.expandableReservation = \"maybe\"", 1, "vhost.a.pool.b.expandableReservation", "TRUE or FALSE"),
      ("vhost.tenant-with-a-long-name.pool.webservers.present = \"TRUE\"", 1, "vhost.tenant-with-a-long-name.pool.webservers.present", "longer than 32 bytes"),
      ("vhost.a.pool.a.present = \"TRUE\"", 1, "vhost.a.pool.a.present", "virtual host's name"),
    ]
    for (text, line, key, message) in cases {
      let error = hostError(text)
      #expect(error?.fileName == "host.cfg", "\(text)")
      #expect(error?.line == line, "\(text)")
      #expect(error?.key == key, "\(text)")
      #expect(error?.message.contains(message) == true, "\(text): \(error?.description ?? "no error")")
    }
    // '/' cannot appear in a key, so path-like pool names are refused by the syntax itself.
    #expect(hostError("vhost.a/web.shares = \"low\"")?.line == 1)
  }

  // MARK: Admission

  func admissionMessage(_ resources: HostResources, _ vms: [VMConfiguration], hostCPUs: Int) -> String? {
    do { try resources.admit(vms, hostCPUs: hostCPUs); return nil } catch { return error.description }
  }

  @Test func overcommitIsAdmitted() {
    let vms = (0..<4).map { VMConfiguration(name: "vm\($0)", cpus: 8) }
    #expect(admissionMessage(HostResources(), vms, hostCPUs: 1) == nil)
    #expect(admissionMessage(try! host(Self.hostText).resources, [VMConfiguration(name: "web", cpus: 2, group: "tenantA/web")], hostCPUs: 1) == nil)
  }

  @Test func impossibleReservationsAreRefusedByName() throws {
    let tenants = try host(Self.hostText).resources
    let cases: [(HostResources, [VMConfiguration], Int, String)] = [
      (HostResources(), [VMConfiguration(name: "a", cpus: 2, cpuMinMHz: 1500), VMConfiguration(name: "b", cpus: 2, cpuMinMHz: 1500)], 2,
       "CPU reservations total 3000 MHz (a 1500, b 1500) but the machine has 2000 MHz (2 host CPUs × 1000 MHz)"),
      (HostResources(), [VMConfiguration(name: "a", cpuMinMHz: 500, cpuMaxMHz: 400)], 1, "VM a: sched.cpu.min 500 MHz is above sched.cpu.max 400 MHz"),
      (HostResources(), [VMConfiguration(name: "a", cpuMinMHz: 1500)], 2, "VM a reserves 1500 MHz (sched.cpu.min) but its vCPUs can use at most 1000 MHz"),
      (HostResources(), [VMConfiguration(name: "a", group: "nope")], 1, "VM a: unknown resource group \"nope\""),
      (HostResources(), [VMConfiguration(name: "a", cpuShares: .custom(2_000_000))], 1, "VM a: 2000000 shares is out of range"),
      (tenants, [VMConfiguration(name: "w", group: "tenantA/web", cpuMinMHz: 900)], 4,
       "resource group tenantA/front is not expandable, but what it contains reserves 900 MHz, more than its own cpu.min of 800 MHz"),
      (HostResources(groups: [.init(name: "g", cpuMinMHz: 300, cpuMaxMHz: 200)]), [VMConfiguration(name: "a", group: "g")], 1,
       "resource group g: cpu.min 300 MHz is above cpu.max 200 MHz"),
      (HostResources(groups: [.init(name: "g", parent: "nope")]), [VMConfiguration(name: "a")], 1, "resource group g: its parent is not declared"),
      (HostResources(groups: [.init(name: "g", cpuMaxMHz: 200)]), [VMConfiguration(name: "a", group: "g", cpuMinMHz: 300)], 1,
       "resource group g: the reservations in it total 300 MHz, above its cpu.max of 200 MHz"),
      (tenants, [VMConfiguration(name: "w", cpus: 2, group: "tenantA", cpuMinMHz: 2000)], 1,
       "CPU reservations total 2800 MHz (tenantA 2800) but the machine has 2000 MHz (1 host CPUs × 2000 MHz)"),
    ]
    for (resources, vms, hostCPUs, expected) in cases {
      let message = admissionMessage(resources, vms, hostCPUs: hostCPUs)
      #expect(message?.contains(expected) == true, "\(message ?? "admitted"), expected \(expected)")
      #expect(message?.contains("\n") == false)
    }
  }

  // MARK: Loading files

  func sandbox(_ files: [String: String]) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keel-host-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, text) in files {
      let url = URL(fileURLWithPath: directory + "/" + name)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try Data(text.utf8).write(to: url)
    }
    return directory
  }

  @Test func vmsJoinTheirGroups() throws {
    let dir = try sandbox([
      "host.cfg": "vhost.tenantA.vm0 = \"web.vmx\"\nvhost.tenantA.pool.web.cpu.max = \"1500\"\nvhost.tenantB.pool.batch.present = \"TRUE\"\n",
      "web.vmx": "numvcpus = \"2\"\nkeel.group = \"web\"\nsched.cpu.shares = \"high\"\n",
      "db.vmx": "keel.group = \"batch\"\n",
      "root.vmx": "keel.group = \"tenantB\"\n",
    ])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let (vms, resources) = try ConfigurationLauncher.loadMachine(hostPath: dir + "/host.cfg", paths: [dir + "/db.vmx", dir + "/root.vmx"])
    #expect(vms.map(\.vm.name) == ["web", "db", "root"])
    #expect(vms.map(\.vm.group) == ["tenantA/web", "tenantB/batch", "tenantB"])
    #expect(resources.groups.map(\.name) == ["tenantA", "tenantA/web", "tenantB", "tenantB/batch"])
    try resources.admit(vms.map(\.vm), hostCPUs: 1)
  }

  @Test func virtualHostsNameTheirVMsIndependently() throws {
    let dir = try sandbox([
      "host.cfg": "vhost.tenantA.vm0 = \"a/web.vmx\"\nvhost.tenantA.vm1 = \"a/db.vmx\"\nvhost.tenantB.vm0 = \"b/web.vmx\"\n",
      "a/web.vmx": "displayName = \"web\"\n", "a/db.vmx": "displayName = \"db\"\n", "b/web.vmx": "displayName = \"web\"\n",
    ])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let (vms, resources) = try ConfigurationLauncher.loadMachine(hostPath: dir + "/host.cfg", paths: [])
    // Only the shared name is qualified by its virtual host.
    #expect(vms.map(\.vm.name) == ["tenantA.web", "db", "tenantB.web"])
    try MachineConfigurationCheck.check(vms.map(\.vm))
    try resources.admit(vms.map(\.vm), hostCPUs: 1)

    // Within one virtual host a name is still unique.
    let same = try sandbox([
      "host.cfg": "vhost.t.vm0 = \"x.vmx\"\nvhost.t.vm1 = \"y.vmx\"\n",
      "x.vmx": "displayName = \"web\"\n", "y.vmx": "displayName = \"web\"\n",
    ])
    defer { try? FileManager.default.removeItem(atPath: same) }
    let twice = try ConfigurationLauncher.loadMachine(hostPath: same + "/host.cfg", paths: [])
    #expect(throws: MachineConfigurationCheck.Problem.duplicateName("web")) { try MachineConfigurationCheck.check(twice.vms.map(\.vm)) }
  }

  @Test func groupErrorsNameTheVMXFile() throws {
    let dir = try sandbox([
      "host.cfg": "vhost.a.vm0 = \"web.vmx\"\nvhost.b.vm0 = \"missing.vmx\"\n",
      "web.vmx": "displayName = \"web\"\nkeel.group = \"front\"\n",
      "plain.vmx": "keel.group = \"front\"\n",
    ])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    #expect(throws: VMXError(fileName: "web.vmx", line: 2, key: "keel.group", message: "unknown resource group \"front\" in virtual host a (host.cfg declares no pools there)")) {
      try ConfigurationLauncher.loadMachine(hostPath: dir + "/host.cfg", paths: [])
    }
    #expect(throws: VMXError(fileName: "plain.vmx", line: 1, key: "keel.group", message: "unknown resource group \"front\" (declare it in a --host file)")) {
      try ConfigurationLauncher.loadMachine(hostPath: nil, paths: [dir + "/plain.vmx"])
    }
    try Data("vhost.b.vm0 = \"missing.vmx\"\n".utf8).write(to: URL(fileURLWithPath: dir + "/host.cfg"))
    #expect(throws: VMXError(fileName: "host.cfg", line: 1, key: "vhost.b.vm0", message: "no such file: \(dir)/missing.vmx")) {
      try ConfigurationLauncher.loadMachine(hostPath: dir + "/host.cfg", paths: [])
    }
  }
}

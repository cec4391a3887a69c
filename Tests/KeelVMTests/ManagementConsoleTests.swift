import Testing
import KeelVM

/// Records what the console asks of the hypervisor.
final class FakeManagementHost: ManagementHost {
  var vms: [ConsoleVM]
  var lifecycles: [VMLifecycle]
  var guestInfo: [Int: [[UInt8]: [UInt8]]] = [:]
  var lines: [String] = []
  var calls: [String] = []
  var focused: Int? = -1
  var guestInfoFull = false

  init(_ vms: [(String, String)]) {
    self.vms = vms.enumerated().map { ConsoleVM(id: $0.offset, name: Array($0.element.0.utf8), virtualHost: $0.element.1) }
    lifecycles = Array(repeating: VMLifecycle(), count: vms.count)
  }

  func consoleVMs() -> [ConsoleVM] { vms }
  func lifecycle(ofVM id: Int) -> VMLifecycle { lifecycles[id] }
  func log(_ text: String) { lines.append(text) }
  func showScreen(_ vms: [Int], scope: [UInt8]?) { calls.append("screen \(vms)") }
  func showSchedulerState() { calls.append("cpus") }
  func statLine(ofVM id: Int) -> String { "stat of \(id)" }
  func inspect(_ vm: Int) { calls.append("inspect \(vm)") }
  func focus(_ vm: Int?) { focused = vm; calls.append("focus \(vm.map { "\($0)" } ?? "none")") }
  func pressPowerButton(_ vm: Int) { calls.append("button \(vm)") }
  func endRunOfVM(_ vm: Int, _ next: RunState, reason: String) -> Bool {
    guard lifecycles[vm].end(next, reason: reason, now: 0) else { return false }
    calls.append("end \(vm) \(reason)")
    return true
  }
  func bootVM(_ vm: Int) { lifecycles[vm].booted(); calls.append("boot \(vm)") }
  func setGuestInfo(_ vm: Int, key: [UInt8], value: [UInt8]) -> Bool {
    guard !guestInfoFull else { return false }
    guestInfo[vm, default: [:]][key] = value
    return true
  }
  func guestInfo(_ vm: Int, key: [UInt8]) -> [UInt8]? { guestInfo[vm]?[key] }
  func pauseVM(_ vm: Int) { _ = lifecycles[vm].pause(at: 0); calls.append("pause \(vm)") }
  func resumeVM(_ vm: Int) { _ = lifecycles[vm].resume(at: 0); calls.append("resume \(vm)") }

  /// Runs `line` and returns the reply (the last line logged).
  func run(_ line: String) -> String {
    var host = self
    ManagementConsole.run(Array(line.utf8), on: &host)
    return lines.last ?? ""
  }
}

@Suite struct ManagementConsoleTests {
  func twoTenants() -> FakeManagementHost {
    FakeManagementHost([("tenantA.web", "tenantA"), ("db", "tenantA"), ("tenantB.web", "tenantB")])
  }

  @Test func localNamesDropTheirVirtualHost() {
    #expect(ManagementConsole.localName("tenantA.web", scope: Array("tenantA".utf8)) == "web")
    #expect(ManagementConsole.localName("tenantA.web", scope: Array("tenantB".utf8)) == "tenantA.web")
    #expect(ManagementConsole.localName("tenantA.web", scope: nil) == "tenantA.web")
  }

  @Test func vmsAreFoundByNameLocalNameOrIndex() {
    let host = twoTenants()
    let vms = host.vms
    #expect(ManagementConsole.find(Array("db".utf8), in: vms, scope: nil)?.id == 1)
    #expect(ManagementConsole.find(Array("vm2".utf8), in: vms, scope: nil)?.id == 2)
    #expect(ManagementConsole.find(Array("web".utf8), in: Array(vms[0...1]), scope: Array("tenantA".utf8))?.id == 0)
    // Unqualified, `web` is ambiguous machine-wide and is nobody's name.
    #expect(ManagementConsole.find(Array("web".utf8), in: vms, scope: nil) == nil)
  }

  @Test func repliesFollowTheProtocol() {
    #expect(ManagementConsole.reply(true, "") == "mgmt: ok")
    #expect(ManagementConsole.reply(false, "why") == "mgmt: error why")
    let host = twoTenants()
    #expect(host.run("help") == "mgmt: ok " + ManagementCommand.usageText)
    #expect(host.run("") == "mgmt: ok screen")
    #expect(host.calls == ["screen [0, 1, 2]"])
    #expect(host.run("frob") == "mgmt: error unknown command frob; " + ManagementCommand.usageText)
    #expect(host.run("stat") == "mgmt: error usage: stat <vm>")
    #expect(host.run("stat db") == "mgmt: ok stat of 1")
  }

  @Test func aScopeSeesOnlyItsVirtualHost() {
    let host = twoTenants()
    #expect(host.run("@tenantC status") == "mgmt: error no virtual host tenantC")
    #expect(host.run("@tenantA status") == "mgmt: ok web=running db=running")
    #expect(host.run("@tenantB stat db") == "mgmt: error no VM named db in virtual host tenantB")
    #expect(host.run("stat nothing") == "mgmt: error no VM named nothing")
    #expect(host.run("@tenantB screen") == "mgmt: ok screen")
    #expect(host.calls == ["screen [2]"])
  }

  @Test func powerCommandsCheckTheVMState() {
    let host = twoTenants()
    #expect(host.run("shutdown db") == "mgmt: ok db: power button pressed")
    #expect(host.run("poweroff db") == "mgmt: ok")
    #expect(host.run("poweroff db") == "mgmt: error db is stopped(powered off from the console)")
    #expect(host.run("shutdown db") == "mgmt: error db is stopped(powered off from the console)")
    #expect(host.run("reset db") == "mgmt: error db is stopped(powered off from the console)")
    // Not started again before the stop is finished.
    #expect(host.run("start db") == "mgmt: error db is stopped(powered off from the console)")
    _ = host.lifecycles[1].lastVCPULeft()
    #expect(host.run("start db") == "mgmt: ok")
    #expect(host.lines.suffix(2) == ["db: started from the console", "mgmt: ok"])
    #expect(host.run("start db") == "mgmt: error db is running")
    #expect(host.run("reset vm0") == "mgmt: ok")
    #expect(host.calls == ["button 1", "end 1 powered off from the console", "boot 1", "end 0 reset from the console"])
  }

  @Test func pauseAndResume() {
    let host = twoTenants()
    #expect(host.run("pause db") == "mgmt: ok")
    #expect(host.run("shutdown db") == "mgmt: error db is paused")
    #expect(host.run("resume db") == "mgmt: ok")
    #expect(host.run("pause db extra") == "mgmt: error usage: pause|resume <vm>")
    _ = host.endRunOfVM(0, .stopping, reason: "test")
    #expect(host.run("pause vm0") == "mgmt: error tenantA.web is not running")
    #expect(host.calls == ["pause 1", "resume 1", "end 0 test"])
  }

  @Test func focusAndGuestInfo() {
    let host = twoTenants()
    #expect(host.run("focus db") == "mgmt: ok console input and output: db (Ctrl-\\ focus to leave)")
    #expect(host.focused == 1)
    #expect(host.run("focus") == "mgmt: ok console input goes to no VM")
    #expect(host.focused == nil)
    #expect(host.calls == ["focus 1", "focus none", "screen [0, 1, 2]"])
    #expect(host.run("guestinfo db guestinfo.color") == "mgmt: error no value for guestinfo.color")
    #expect(host.run("guestinfo db color dark blue\\s") == "mgmt: ok")
    #expect(host.guestInfo[1]?[Array("color".utf8)] == Array("dark blue ".utf8))
    #expect(host.run("guestinfo db color") == "mgmt: ok dark blue\\s")
    host.guestInfoFull = true
    #expect(host.run("guestinfo db size 1") == "mgmt: error guestinfo store full")
  }

  @Test func cpusAndInspectGoToTheHost() {
    let host = twoTenants()
    #expect(host.run("cpus") == "mgmt: ok")
    #expect(host.run("inspect vm2") == "mgmt: ok")
    #expect(host.calls == ["cpus", "inspect 2"])
  }
}

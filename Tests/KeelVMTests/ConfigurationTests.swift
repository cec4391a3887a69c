import Testing
@testable import KeelVM

@Suite struct ConfigurationModuleTests {
  func parse(_ text: String) throws -> MachineDefinition {
    try (Array(text.utf8) + [0]).withUnsafeBytes { try ConfigurationModule.parseMachine($0) }
  }

  @Test func groupsAndCPUAllocation() throws {
    let machine = try parse("""
      cpu-mhz 2400
      group tenant
      shares 8000
      cpu.min 1000
      end
      group tenant/web
      parent tenant
      cpu.max 1200
      expandable no
      end
      vm web
      cpus 2
      kernel 0x44000000
      group tenant/web
      shares 3000
      cpu.min 300
      cpu.max 900
      end
      vm plain
      kernel 0x44000000
      end
      """)
    #expect(machine.cpuMHz == 2400)
    #expect(machine.groups.count == 2)
    #expect(machine.groups[1].parent == Array("tenant".utf8) && machine.groups[1].cpuMaxMHz == 1200 && !machine.groups[1].expandable)
    #expect(machine.groups[0].shares == 8000 && machine.groups[0].cpuMinMHz == 1000)
    #expect(machine.vms[0].group == Array("tenant/web".utf8))
    #expect(machine.vms[0].shares == 3000 && machine.vms[0].cpuMinMHz == 300 && machine.vms[0].cpuMaxMHz == 900)
    #expect(machine.vms[1].group == nil && machine.vms[1].shares == nil && machine.vms[1].cpuMaxMHz == nil)
  }

  @Test(arguments: [
    ("group a\ngroup b\nend\nend\n", 2, "block inside a block"),
    ("group a\nparent nowhere\nend\n", 3, "parent group nowhere is not defined"),
    ("vm a\nkernel 0x1\ngroup nowhere\nend\n", 4, "group nowhere is not defined"),
    ("group a\nend\ngroup a\nend\n", 4, "group defined twice"),
    ("group a\nshares 0\nend\n", 2, "shares must be 1 to 1000000"),
    ("vm a\nkernel 0x1\ncpu.max lots\nend\n", 3, "not a MHz figure"),
    ("group a\nfrobnicate 1\nend\n", 2, "unknown group setting frobnicate"),
    ("group a\n", 2, "block not closed"),
    ("cpu-mhz 0\n", 1, "cpu-mhz must be 1 to 1000000"),
  ])
  func errorsNameTheLine(text: String, line: Int, message: String) {
    #expect {
      _ = try parse(text)
    } throws: { error in
      let e = error as! ConfigurationError
      return e.line == line && e.message.contains(message)
    }
  }
}

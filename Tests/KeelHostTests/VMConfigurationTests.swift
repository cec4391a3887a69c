import Testing
@testable import KeelHost

@Suite struct VMConfigurationTests {
  func configuration(_ text: String, file: String = "web.vmx") throws(VMXError) -> VMConfiguration {
    try VMConfiguration(vmx: try VMXFile.parse(text, fileName: file), directory: "/vms/web", defaultName: "web")
  }

  func error(_ text: String) -> VMXError? {
    do { _ = try configuration(text); return nil } catch { return error }
  }

  @Test func everyKey() throws {
    let vm = try configuration("""
      .encoding = "UTF-8"
      config.version = "8"
      virtualHW.version = "19"
      displayName = "frontend-1"
      numvcpus = "4"
      memsize = "1024"
      keel.kernel = "images/Image"
      keel.initrd = "/abs/initrd.cpio"
      keel.cmdline = "quiet loglevel=3"
      keel.loadAddress = "0x4020_0000"
      keel.group = "web"
      keel.time.mode = "trapped"
      keel.time.frequency = "62500000"
      keel.hypervisorNode = "vmware"
      guestinfo.ip = "10.0.0.2"
      guestinfo.motd = " two  words |0A"
      serial0.fileType = "file"
      serial0.fileName = "console.log"
      sched.cpu.shares = "high"
      sched.cpu.min = "100"
      sched.cpu.max = "2000"
      sched.mem.max = "512"
      """)
    #expect(vm.name == "frontend-1")
    #expect(vm.cpus == 4)
    #expect(vm.memoryMiB == 1024)
    #expect(vm.kernel == "/vms/web/images/Image")
    #expect(vm.initrd == "/abs/initrd.cpio")
    #expect(vm.commandLine == "quiet loglevel=3")
    #expect(vm.loadAddress == 0x4020_0000)
    #expect(vm.group == "web")
    #expect(vm.timeMode == .trapped)
    #expect(vm.timeFrequencyHz == 62_500_000)
    #expect(vm.hypervisorNode == "vmware")
    #expect(vm.guestInfo == [.init(key: "ip", value: "10.0.0.2"), .init(key: "motd", value: " two  words \n")])
    #expect(vm.serial == .file("/vms/web/console.log"))
    #expect(vm.cpuShares == .high)
    #expect(vm.cpuMinMHz == 100)
    #expect(vm.cpuMaxMHz == 2000)
    #expect(vm.memoryMaxMiB == 512)
  }

  @Test func defaultsWithoutKernelMeanTheDefaultGuest() throws {
    let vm = try configuration("")
    #expect(vm == VMConfiguration(name: "web"))
    #expect(vm.kernel == nil && vm.initrd == nil)
    #expect(vm.cpus == 1 && vm.memoryMiB == RunLimits.defaultMemoryMiB && vm.timeMode == .passthrough)
  }

  @Test func sharesLevelsAndNumbers() throws {
    #expect(try configuration("sched.cpu.shares = \"low\"").cpuShares == .low)
    #expect(try configuration("sched.cpu.shares = \"Normal\"").cpuShares == .normal)
    #expect(try configuration("sched.cpu.shares = \"3000\"").cpuShares == .custom(3000))
  }

  @Test(arguments: [
    ("numvcpus = \"two\"", 1, "numvcpus", "\"two\" is not a number"),
    ("numvcpus = \"0\"", 1, "numvcpus", "out of range (1…8)"),
    ("numvcpus = \"9\"", 1, "numvcpus", "out of range (1…8)"),
    ("memsize = \"15\"", 1, "memsize", "below the minimum of 16 MiB"),
    ("memsize = \"99999999\"", 1, "memsize", "more than"),
    ("memsize = \"lots\"", 1, "memsize", "is not a number"),
    ("keel.kernel = \"\"", 1, "keel.kernel", "empty path"),
    ("keel.kernel = \"k\"\nkeel.loadAddress = \"0xZZ\"", 2, "keel.loadAddress", "not an address"),
    ("keel.kernel = \"k\"\nkeel.loadAddress = \"0x40000800\"", 2, "keel.loadAddress", "not aligned"),
    ("keel.loadAddress = \"0x40080000\"", 1, "keel.loadAddress", "needs keel.kernel"),
    ("keel.cmdline = \"a|0Ab\"", 1, "keel.cmdline", "control characters"),
    ("keel.group = \"a b\"", 1, "keel.group", "not a valid group name"),
    ("keel.time.mode = \"fast\"", 1, "keel.time.mode", "passthrough or trapped"),
    ("keel.time.mode = \"trapped\"\nkeel.time.frequency = \"1GHz\"", 2, "keel.time.frequency", "is not a number"),
    ("keel.time.mode = \"trapped\"\nkeel.time.frequency = \"999999\"", 2, "keel.time.frequency", "out of range"),
    ("keel.time.mode = \"trapped\"\nkeel.time.frequency = \"1000000001\"", 2, "keel.time.frequency", "out of range"),
    ("keel.time.frequency = \"1000000\"", 1, "keel.time.frequency", "needs keel.time.mode = \"trapped\""),
    ("keel.hypervisorNode = \"vm ware\"", 1, "keel.hypervisorNode", "compatible"),
    ("guestinfo. = \"x\"", 1, "guestinfo.", "missing key"),
    ("guestinfo.x = \"a|1Cb\"", 1, "guestinfo.x", "control character 0x1C"),
    ("serial0.fileType = \"pipe\"\nserial0.fileName = \"p\"", 1, "serial0.fileType", "only \"file\""),
    ("serial0.fileType = \"file\"", 1, "serial0.fileType", "needs serial0.fileName"),
    ("serial0.fileName = \"x.log\"", 1, "serial0.fileName", "needs serial0.fileType"),
    ("sched.cpu.shares = \"-5\"", 1, "sched.cpu.shares", "low, normal, high or a positive number"),
    ("sched.cpu.min = \"-1\"", 1, "sched.cpu.min", "must not be negative"),
    ("sched.cpu.max = \"0\"", 1, "sched.cpu.max", "must be positive"),
    ("sched.cpu.min = \"500\"\nsched.cpu.max = \"100\"", 1, "sched.cpu.min", "above sched.cpu.max (100 MHz, line 2)"),
    ("sched.mem.max = \"8\"", 1, "sched.mem.max", "below the minimum"),
    ("displayName = \"web server\"", 1, "displayName", "not a valid VM name"),
    ("displayName = \"mgmt\"", 1, "displayName", "reserved"),
    ("displayName = \"\(String(repeating: "a", count: 33))\"", 1, "displayName", "not a valid VM name"),
    ("ethernet0.present = \"TRUE\"", 1, "ethernet0.present", "unknown key"),
    ("keel.kernal = \"k\"", 1, "keel.kernal", "unknown key"),
  ])
  func rejects(_ text: String, _ line: Int, _ key: String, _ fragment: String) {
    guard let error = error(text) else { Issue.record("accepted: \(text)"); return }
    #expect(error.line == line, "\(error)")
    #expect(error.key == key, "\(error)")
    #expect(error.message.contains(fragment), "\(error)")
    #expect(error.description.hasPrefix("web.vmx:\(line): \(key): "))
  }

  @Test func invalidFileNameWithoutDisplayNameAsksForOne() {
    do {
      _ = try VMConfiguration(vmx: try VMXFile.parse("", fileName: "my vm.vmx"), directory: "/", defaultName: "my vm")
      Issue.record("accepted")
    } catch {
      #expect(error.line == nil)
      #expect(error.description.hasPrefix("my vm.vmx: "))
      #expect(error.description.contains("set displayName"))
    }
  }

  @Test func namesFollowTheConfigModuleRule() {
    #expect(VMConfiguration.isValidName("vm0"))
    #expect(VMConfiguration.isValidName("web_1.prod-a"))
    #expect(!VMConfiguration.isValidName(""))
    #expect(!VMConfiguration.isValidName("a:b"))
    #expect(!VMConfiguration.isValidName(".hidden"))
    #expect(!VMConfiguration.isValidName("a/b"))
    #expect(VMConfiguration.isValidName(String(repeating: "x", count: 32)))
    #expect(!VMConfiguration.isValidName(String(repeating: "x", count: 33)))
  }

  @Test func machineChecks() {
    #expect(throws: MachineConfigurationCheck.Problem.noVMs) { try MachineConfigurationCheck.check([]) }
    #expect(throws: MachineConfigurationCheck.Problem.duplicateName("a")) {
      try MachineConfigurationCheck.check([VMConfiguration(name: "a"), VMConfiguration(name: "a")])
    }
    #expect(throws: MachineConfigurationCheck.Problem.nameShadowsAlias(name: "vm0", index: 0)) {
      try MachineConfigurationCheck.check([VMConfiguration(name: "web"), VMConfiguration(name: "vm0")])
    }
    #expect(throws: MachineConfigurationCheck.Problem.sharedSerialFile("a", "c")) {
      try MachineConfigurationCheck.check([
        VMConfiguration(name: "a", serial: .file("/x")), VMConfiguration(name: "b"), VMConfiguration(name: "c", serial: .file("/x")),
      ])
    }
    // A VM may carry its own alias as its name, and each of several VMs may have its console file.
    #expect(throws: Never.self) { try MachineConfigurationCheck.check([VMConfiguration(name: "vm0"), VMConfiguration(name: "vm1")]) }
    #expect(throws: Never.self) { try MachineConfigurationCheck.check([VMConfiguration(name: "a", serial: .file("/x"))]) }
    #expect(throws: Never.self) {
      try MachineConfigurationCheck.check([VMConfiguration(name: "a", serial: .file("/x")), VMConfiguration(name: "b", serial: .file("/y"))])
    }
  }
}

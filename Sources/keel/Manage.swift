import KeelVM
import ArgumentParser
import Foundation
import KeelHost

/// Management commands talk to a running `keel run` through its per-VM Unix socket
/// (`$KEEL_RUN_DIR` or /tmp/keel-run-<uid>). Exit 0 on `ok`; otherwise the reason on stderr and 1.
enum Management {
  static func send(_ request: ManagementRequest, vm: String) throws -> String? {
    let reply: ManagementReply
    do {
      reply = try ManagementClient.send(request, vm: vm, environment: ProcessInfo.processInfo.environment)
    } catch {
      fail(error.description)
    }
    switch reply {
    case .ok(let text): return text
    case .error(let text): fail("\(vm): \(text)")
    }
  }

  static func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("keel: \(message)\n".utf8))
    Foundation.exit(1)
  }
}

struct GuestInfoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "guestinfo",
    abstract: "Read or set a guestinfo variable of a running VM.",
    discussion: "Without VALUE, prints the value. KEY may be given with or without the \"guestinfo.\" prefix.")

  @Argument(help: "VM name (displayName or .vmx base name) or vm<index>.")
  var vm: String
  @Argument(help: "Variable name, e.g. guestinfo.ip or ip.")
  var key: String
  @Argument(help: "New value (omit to read).")
  var value: String?

  func run() throws {
    let request: ManagementRequest
    do { request = try ManagementRequest.guestInfo(key: key, value: value) } catch {
      FileHandle.standardError.write(Data("keel: \(error.description)\n".utf8))
      throw ExitCode(2)
    }
    let text = try Management.send(request, vm: vm)
    if case .getGuestInfo = request {
      FileHandle.standardOutput.write(Data((ProtocolEscaping.unescape(text ?? "") + "\n").utf8))
    }
  }
}

struct PauseCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop scheduling a running VM's vCPUs.")
  @Argument(help: "VM name or vm<index>.")
  var vm: String
  func run() throws { _ = try Management.send(.pause, vm: vm) }
}

struct ResumeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "resume", abstract: "Let a paused VM run again.")
  @Argument(help: "VM name or vm<index>.")
  var vm: String
  func run() throws { _ = try Management.send(.resume, vm: vm) }
}

struct StatCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stat", abstract: "Print a running VM's state, CPU use and counters.",
    discussion: "One line of key=value pairs: state, vhost, vcpus, running, cpu_ms, entitled_mhz, memory_mib, uptime_s, exits, clock_ms (the host counter, to time cpu_ms against).")
  @Argument(help: "VM name or vm<index>.")
  var vm: String
  func run() throws {
    let text = try Management.send(.stat, vm: vm)
    FileHandle.standardOutput.write(Data(((text ?? "") + "\n").utf8))
  }
}

struct StopCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stop", abstract: "Stop a running VM: its power button, or at once with --force.")
  @Argument(help: "VM name or vm<index>.")
  var vm: String
  @Flag(help: "Power the VM off at once, as pulling the plug (the guest is not asked).")
  var force = false
  func run() throws { _ = try Management.send(force ? .powerOff : .shutdown, vm: vm) }
}

struct ResetCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "reset", abstract: "Reset a running VM (it boots again).")
  @Argument(help: "VM name or vm<index>.")
  var vm: String
  func run() throws { _ = try Management.send(.reset, vm: vm) }
}

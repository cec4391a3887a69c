/// Reads the machine's serial output as it streams past and works out how the run ended.
///
/// The hypervisor's own lines always start at column 0 with `keel: `; everything else is the guest.
/// Pure and byte-fed, so chunk boundaries anywhere (even inside `keel: `) give the same result.
public struct ConsoleMonitor: Sendable {
  public enum Mode: Sendable { case keel, bare }

  public enum VMStop: Equatable, Sendable {
    case poweroff
    case reset
    /// The guest kept resetting: Keel rebooted it until it called that a loop and stopped it.
    case resetLoop
    case fault(String)
    /// A stop reason this version of the CLI does not know; treated as a failure.
    case other(String)
  }

  public enum Event: Equatable, Sendable {
    /// First byte of guest output, at this offset of the chunk passed to `feed`.
    case guestOutputBegins(offset: Int)
    case stopped(vm: String, VMStop)
    case hypervisorPanic(String)
    case kernelPanic(String)
    case exitCounts(String)
  }

  public let mode: Mode
  /// The VMs the run boots, in configuration order; `vm<i>` in a stop line means `vmNames[i]`.
  public let vmNames: [String]
  /// The first stop reported, whichever VM it was.
  public private(set) var stop: VMStop?
  /// Every VM's stop, keyed by its name (an alias is mapped to the name).
  public private(set) var stops: [String: VMStop] = [:]
  private var stopOrder: [String] = []
  public private(set) var hypervisorPanic: String?
  public private(set) var kernelPanic: String?
  public private(set) var exitCounts: String?
  public private(set) var guestOutputSeen = false
  /// Guest lines seen so far (complete lines only), for tools that want to inspect them.
  public private(set) var lineCount = 0

  private var line: [UInt8] = []
  /// Whether the current line can still turn out to be a hypervisor line.
  private var lineMayBeHypervisor = true
  private var lineIsGuest = false

  static let prefix = Array("keel: ".utf8)
  static let maxLine = 16 * 1024

  public init(mode: Mode, vmNames: [String] = ["vm0"]) { self.mode = mode; self.vmNames = vmNames }

  /// True once the run has reached an end state that means QEMU should be shut down.
  public var isFinished: Bool { hypervisorPanic != nil || (stop != nil && runningVMs.isEmpty) }

  /// VMs that have not reported a stop yet.
  public var runningVMs: [String] { vmNames.filter { stops[$0] == nil } }

  public mutating func feed<Bytes: Collection>(_ bytes: Bytes) -> [Event] where Bytes.Element == UInt8 {
    var events: [Event] = []
    var offset = 0
    // Where the current line started in this chunk, so the banner goes before the whole line.
    var lineStart: Int? = line.isEmpty ? 0 : nil
    for byte in bytes {
      if byte == UInt8(ascii: "\n") {
        finishLine(&events)
        lineStart = offset + 1
      } else {
        if line.count < Self.maxLine { line.append(byte) }
        classify(byte: byte, at: lineStart ?? offset, &events)
      }
      offset += 1
    }
    return events
  }

  /// Flushes a last unterminated line, e.g. when QEMU exits mid-line.
  public mutating func finish() -> [Event] {
    var events: [Event] = []
    if !line.isEmpty { finishLine(&events) }
    return events
  }

  private mutating func classify(byte: UInt8, at offset: Int, _ events: inout [Event]) {
    guard !lineIsGuest else { return }
    if mode == .keel && lineMayBeHypervisor {
      let index = line.count - 1
      if index < Self.prefix.count {
        if byte == Self.prefix[index] { return }
        // A lone carriage return at the start of a line is not content either way.
        if byte == UInt8(ascii: "\r") && index == 0 { line.removeAll(); return }
      } else {
        return
      }
      lineMayBeHypervisor = false
    }
    if byte == UInt8(ascii: "\r") || byte == UInt8(ascii: " ") { return }
    lineIsGuest = true
    if !guestOutputSeen {
      guestOutputSeen = true
      events.append(.guestOutputBegins(offset: offset))
    }
  }

  private mutating func finishLine(_ events: inout [Event]) {
    var text = line
    while let last = text.last, last == UInt8(ascii: "\r") { text.removeLast() }
    let isHypervisor = mode == .keel && lineMayBeHypervisor && text.starts(with: Self.prefix)
    line.removeAll(keepingCapacity: true)
    lineMayBeHypervisor = true
    lineIsGuest = false
    lineCount += 1
    let string = String(decoding: text, as: UTF8.self)
    if isHypervisor {
      hypervisorLine(String(string.dropFirst(Self.prefix.count)), &events)
    } else {
      guestLine(string, &events)
    }
  }

  private mutating func hypervisorLine(_ body: String, _ events: inout [Event]) {
    if body.hasPrefix("PANIC") {
      let text = String(body.dropFirst("PANIC".count)).trimmingSpaces()
      if hypervisorPanic == nil { hypervisorPanic = text; events.append(.hypervisorPanic(text)) }
      return
    }
    // "vm0: stopped: poweroff", "web: exits total=…"
    guard let colon = body.firstIndex(of: ":") else { return }
    var vm = String(body[..<colon])
    guard VMConfiguration.isValidName(vm) else { return }
    if !vmNames.contains(vm), vm.hasPrefix("vm"), let index = Int(vm.dropFirst(2)), vmNames.indices.contains(index) {
      vm = vmNames[index]
    }
    let rest = String(body[body.index(after: colon)...]).trimmingSpaces()
    if rest.hasPrefix("stopped:") {
      let reason = String(rest.dropFirst("stopped:".count)).trimmingSpaces()
      let parsed: VMStop
      if reason == "poweroff" { parsed = .poweroff }
      else if reason == "reset" { parsed = .reset }
      else if reason == "reset loop" { parsed = .resetLoop }
      else if reason.hasPrefix("fault") { parsed = .fault(String(reason.dropFirst("fault".count)).trimmingSpaces()) }
      else { parsed = .other(reason) }
      guard stops[vm] == nil else { return }
      stops[vm] = parsed
      stopOrder.append(vm)
      if stop == nil { stop = parsed }
      events.append(.stopped(vm: vm, parsed))
    } else if rest.hasPrefix("exits ") || rest == "exits" {
      exitCounts = rest
      events.append(.exitCounts(rest))
    }
  }

  private mutating func guestLine(_ text: String, _ events: inout [Event]) {
    let marker = "Kernel panic - not syncing: "
    guard kernelPanic == nil, let range = text.range(of: marker) else { return }
    var message = String(text[range.upperBound...]).trimmingSpaces()
    // The closing "---[ end Kernel panic - not syncing: … ]---" banner repeats the message.
    if message.hasSuffix("]---") { message = String(message.dropLast(4)).trimmingSpaces() }
    kernelPanic = message
    events.append(.kernelPanic(message))
  }

  /// The outcome of a run, from what was printed and how QEMU ended.
  public func verdict(_ end: QEMUEnd) -> RunVerdict {
    if let text = hypervisorPanic { return RunVerdict(exitCode: RunVerdict.hypervisorFault, reason: "hypervisor fault: \(text)") }
    // A VM that failed decides, whatever happened to the others; success needs every VM off.
    let named = vmNames.count > 1
    for vm in stopOrder {
      let prefix = named ? "\(vm): " : ""
      switch stops[vm]! {
      case .poweroff: continue
      case .reset:
        if let panic = kernelPanic { return RunVerdict(exitCode: RunVerdict.guestFailure, reason: "\(prefix)guest panic: \(panic)") }
        return RunVerdict(exitCode: RunVerdict.guestFailure, reason: "\(prefix)guest reset")
      case .resetLoop:
        if let panic = kernelPanic { return RunVerdict(exitCode: RunVerdict.guestFailure, reason: "\(prefix)guest panic: \(panic) (reset loop)") }
        return RunVerdict(exitCode: RunVerdict.guestFailure, reason: "\(prefix)guest reset loop")
      case .fault(let text): return RunVerdict(exitCode: RunVerdict.guestFailure, reason: "\(prefix)guest fault: \(text)")
      case .other(let text): return RunVerdict(exitCode: RunVerdict.guestFailure, reason: "\(prefix)guest stopped: \(text)")
      }
    }
    if stop != nil && runningVMs.isEmpty { return RunVerdict(exitCode: 0, reason: nil) }
    switch end {
    case .timedOut(let seconds):
      return RunVerdict(exitCode: RunVerdict.timeout, reason: "timeout after \(seconds) s")
    case .detached:
      return RunVerdict(exitCode: RunVerdict.detached, reason: "detached from the console (Ctrl-]); QEMU stopped")
    case .signaled(let signal):
      return RunVerdict(exitCode: RunVerdict.qemuFailure, reason: "qemu-system-aarch64 killed by signal \(signal)")
    case .exited(let status):
      if mode == .bare {
        if let panic = kernelPanic { return RunVerdict(exitCode: RunVerdict.guestFailure, reason: "guest panic: \(panic)") }
        if status == 0 { return RunVerdict(exitCode: 0, reason: nil) }
      }
      if status == 0 {
        if stop != nil {
          return RunVerdict(exitCode: RunVerdict.qemuFailure, reason: "qemu-system-aarch64 exited before every VM stopped (still running: \(runningVMs.joined(separator: ", ")))")
        }
        return RunVerdict(exitCode: RunVerdict.qemuFailure, reason: "qemu-system-aarch64 exited before the hypervisor reported a stop")
      }
      return RunVerdict(exitCode: RunVerdict.qemuFailure, reason: "qemu-system-aarch64 exited with status \(status)")
    }
  }
}

/// How the QEMU process ended.
public enum QEMUEnd: Equatable, Sendable {
  case exited(Int32)
  case signaled(Int32)
  case timedOut(seconds: Int)
  case detached
}

public struct RunVerdict: Equatable, Sendable {
  public var exitCode: Int32
  /// One line for `keel: <reason>` on stderr; nil on success.
  public var reason: String?

  public static let guestFailure: Int32 = 1
  public static let usage: Int32 = 2
  public static let hypervisorFault: Int32 = 3
  public static let qemuFailure: Int32 = 4
  public static let timeout: Int32 = 124
  public static let detached: Int32 = 130
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// Runs QEMU with its serial port on our terminal: output is relayed unbuffered and fed to a
/// `ConsoleMonitor`; stdin goes to the serial input, from a terminal (raw mode, Ctrl-] quits) or a
/// pipe: guest keystrokes, and Ctrl-\\ commands of the hypervisor's management console.
public final class ConsoleSession {
  public let executable: String
  public let arguments: [String]
  public let mode: ConsoleMonitor.Mode
  public let timeoutSeconds: Int?
  /// Written to stderr when the guest's output starts.
  public var banner = "keel: guest console follows (Ctrl-] to quit)"
  /// Called with QEMU's pid once it runs (benchmarks sample its CPU time).
  public var onStart: ((pid_t) -> Void)?
  /// The VMs whose stop reports end the run.
  public var vmNames = ["vm0"]
  /// Also write the console output (without management replies) to this file.
  public var consoleCopyPath: String?
  /// VMs whose `[name] ` lines go to their own file (prefix stripped) instead of stdout.
  public var serialFiles: [(vm: String, path: String)] = []
  /// `keel guestinfo`/`pause`/`resume` requests, forwarded into the serial input.
  var management: ManagementServer?

  /// After the hypervisor reports a stop, QEMU gets this long to exit on its own.
  static let stopGraceSeconds = 10.0
  static let detachByte: UInt8 = 0x1D
  /// Starts a management command in the hypervisor, so it never comes from the keyboard.
  static let managementByte: UInt8 = 0x1C

  public init(executable: String, arguments: [String], mode: ConsoleMonitor.Mode, timeoutSeconds: Int?) {
    self.executable = executable; self.arguments = arguments; self.mode = mode; self.timeoutSeconds = timeoutSeconds
  }

  public struct Result: Sendable {
    public var verdict: RunVerdict
    public var monitor: ConsoleMonitor
    public var end: QEMUEnd
  }

  public func run() throws -> Result {
    let interactive = isatty(STDIN_FILENO) == 1
    // A program may drive the console through a pipe, as a person does through the terminal
    // (checked before our own pipes can take descriptor 0, should it be closed).
    let forwardsInput = interactive || fcntl(STDIN_FILENO, F_GETFD) != -1
    var outputPipe: [Int32] = [0, 0]
    var inputPipe: [Int32] = [-1, -1]
    guard pipe(&outputPipe) == 0 else { throw KeelHostError.setup("pipe: \(errnoText())") }
    // Always a pipe we own: management commands share the serial input with the keyboard.
    guard pipe(&inputPipe) == 0 else { throw KeelHostError.setup("pipe: \(errnoText())") }
    _ = fcntl(outputPipe[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(inputPipe[1], F_SETFD, FD_CLOEXEC)

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, inputPipe[0], STDIN_FILENO)
    posix_spawn_file_actions_addclose(&actions, inputPipe[1])
    posix_spawn_file_actions_adddup2(&actions, outputPipe[1], STDOUT_FILENO)
    posix_spawn_file_actions_addclose(&actions, outputPipe[0])

    // Whoever started keel may have blocked signals (Foundation's Process passes on its thread's
    // mask); QEMU must still die of the SIGTERM keel sends it on detach.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let status = posix_spawnp(&pid, executable, &actions, &attributes, argv, environ)
    guard status == 0 else {
      throw KeelHostError.setup("cannot start \(executable): \(String(cString: strerror(status)))")
    }
    close(outputPipe[1])
    close(inputPipe[0])
    ChildGuard.install(pid: pid)
    ChildGuard.removeOnSignal(management?.socketPaths ?? [])
    defer { ChildGuard.clear() }
    for warning in management?.warnings ?? [] { writeAll(STDERR_FILENO, Array("keel: warning: \(warning)\n".utf8)) }
    onStart?(pid)

    var terminal: RawTerminal?
    if interactive { terminal = RawTerminal(fd: STDIN_FILENO) }
    defer { terminal?.restore() }

    let result = relay(pid: pid, output: outputPipe[0], input: inputPipe[1], interactive: interactive, forwardsInput: forwardsInput)
    close(outputPipe[0])
    close(inputPipe[1])
    return result
  }

  private func relay(pid: pid_t, output: Int32, input: Int32, interactive: Bool, forwardsInput: Bool) -> Result {
    var monitor = ConsoleMonitor(mode: mode, vmNames: vmNames)
    var replies = ManagementReplyFilter()
    let copy: Int32 = consoleCopyPath.map { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) } ?? -1
    defer { if copy >= 0 { close(copy) } }
    var router = serialFiles.isEmpty ? nil : ConsoleRouter(names: serialFiles.map(\.vm))
    let files: [Int32] = serialFiles.map { open($0.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
    defer { for fd in files where fd >= 0 { close(fd) } }
    let start = monotonicSeconds()
    var killDeadline: Double? = timeoutSeconds.map { start + Double($0) }
    var timedOut = false
    var detached = false
    var finishedAt: Double?
    var buffer = [UInt8](repeating: 0, count: 65536)
    var stdinOpen = forwardsInput
    defer { management?.close() }

    // Console bytes past the monitor: to stdout and the copy, or to a VM's own file.
    func emit(_ bytes: ArraySlice<UInt8>) {
      guard router != nil else {
        writeAll(STDOUT_FILENO, bytes)
        if copy >= 0 { writeAll(copy, bytes) }
        return
      }
      for (destination, piece) in router!.feed(bytes) {
        switch destination {
        case .console: writeAll(STDOUT_FILENO, piece)
        case .file(let index): if files[index] >= 0 { writeAll(files[index], piece) }
        }
      }
    }

    // Console bytes, after management replies are taken out: to the monitor, then out.
    func show(_ bytes: [UInt8]) {
      var written = 0
      for event in monitor.feed(bytes) {
        if case .guestOutputBegins(let reported) = event {
          // The banner goes before the whole first guest line: the monitor may only know a line
          // is the guest's a few bytes in (after "keel" turned out not to be "keel: ").
          let offset = bytes[0..<reported].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
          emit(bytes[0..<offset])
          written = offset
          writeAll(STDERR_FILENO, Array((banner + (interactive ? "\r\n" : "\n")).utf8)[...])
        }
      }
      emit(bytes[written...])
    }

    while true {
      let now = monotonicSeconds()
      if let deadline = killDeadline, now >= deadline {
        if finishedAt == nil && !detached { timedOut = true }
        kill(pid, SIGKILL)
        killDeadline = nil
      }
      if let management {
        management.expire(now: now)
        // One writer for the serial input, whole commands at a time: never mixed with keystrokes.
        while let command = management.nextCommand(now: now) {
          writeAll(input, [Self.managementByte] + Array(command.utf8) + [UInt8(ascii: "\n")])
        }
        if !management.isAwaitingReply && replies.isHolding { show(replies.release()) }
      }
      var fds = [pollfd(fd: output, events: Int16(POLLIN), revents: 0)]
      if stdinOpen { fds.append(pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)) }
      let managementFDs = management?.descriptors ?? []
      for fd in managementFDs { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
      let wakeAt = [killDeadline, management?.nextDeadline].compactMap { $0 }.min()
      let wait = wakeAt.map { max(0, Int32(($0 - now) * 1000) + 1) } ?? -1
      let ready = poll(&fds, nfds_t(fds.count), wait)
      if ready < 0 { if errno == EINTR { continue }; break }
      if fds[0].revents != 0 {
        let count = read(output, &buffer, buffer.count)
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }  // QEMU closed its end: it is exiting.
        let filtered = replies.feed(buffer[0..<count])
        show(filtered.output)
        for reply in filtered.replies {
          // A reply keel waits for goes back to the asking `keel` command; any other answers a
          // command someone typed on the console, who should see it.
          if let management, management.isAwaitingReply { management.deliver(replyLine: reply) }
          else { show(Array("keel: mgmt: \(reply)\n".utf8)) }
        }
        if monitor.isFinished && finishedAt == nil {
          finishedAt = monotonicSeconds()
          killDeadline = finishedAt! + Self.stopGraceSeconds
        }
      }
      if stdinOpen && fds[1].revents != 0 {
        let count = read(STDIN_FILENO, &buffer, buffer.count)
        if count <= 0 { stdinOpen = false; continue }
        // Ctrl-\\ (0x1C) passes: it starts a command of the hypervisor's management console.
        let bytes = buffer[0..<count]
        if let quit = bytes.firstIndex(of: Self.detachByte) {
          writeAll(input, bytes[..<quit])
          detached = true
          kill(pid, SIGTERM)
          killDeadline = monotonicSeconds() + 3
          stdinOpen = false
        } else {
          writeAll(input, bytes)
        }
      }
      let firstManagement = fds.count - managementFDs.count
      for (offset, fd) in managementFDs.enumerated() where fds[firstManagement + offset].revents != 0 {
        management?.readable(fd)
      }
    }
    show(replies.release())
    if let rest = router?.finish() { writeAll(STDOUT_FILENO, rest) }
    _ = monitor.finish()
    let end = waitFor(pid: pid, timedOut: timedOut, detached: detached)
    return Result(verdict: monitor.verdict(end), monitor: monitor, end: end)
  }

  private func waitFor(pid: pid_t, timedOut: Bool, detached: Bool) -> QEMUEnd {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    if timedOut { return .timedOut(seconds: timeoutSeconds ?? 0) }
    if detached { return .detached }
    // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot import.
    if status & 0x7F == 0 { return .exited((status >> 8) & 0xFF) }
    return .signaled(status & 0x7F)
  }
}

func writeAll<Bytes: Collection>(_ fd: Int32, _ bytes: Bytes) where Bytes.Element == UInt8 {
  let array = Array(bytes)
  var offset = 0
  while offset < array.count {
    let n = array[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    if n < 0 { if errno == EINTR || errno == EAGAIN { continue }; return }
    offset += n
  }
}

func monotonicSeconds() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func errnoText() -> String { String(cString: strerror(errno)) }

/// Puts a terminal in raw mode so every key (Ctrl-C included) reaches the guest.
struct RawTerminal {
  let fd: Int32
  let saved: termios

  init?(fd: Int32) {
    var original = termios()
    guard tcgetattr(fd, &original) == 0 else { return nil }
    var raw = original
    cfmakeraw(&raw)
    guard tcsetattr(fd, TCSANOW, &raw) == 0 else { return nil }
    self.fd = fd; self.saved = original
    ChildGuard.saveTerminal(original, fd: fd)
  }

  func restore() {
    var original = saved
    tcsetattr(fd, TCSANOW, &original)
    ChildGuard.forgetTerminal()
  }
}

/// Kills QEMU and restores the terminal if keel itself is told to stop, so no QEMU outlives us.
/// Signal handlers cannot capture context, hence the process-wide state.
enum ChildGuard {
  nonisolated(unsafe) static var childPID: pid_t = 0
  nonisolated(unsafe) static var terminal = termios()
  nonisolated(unsafe) static var terminalFD: Int32 = -1

  static func install(pid: pid_t) {
    childPID = pid
    signal(SIGPIPE, SIG_IGN)
    // A blocked SIGTERM (inherited from whoever started keel) would leave QEMU and sockets behind.
    var handled = sigset_t()
    sigemptyset(&handled)
    for sig in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&handled, sig) }
    sigprocmask(SIG_UNBLOCK, &handled, nil)
    for sig in [SIGTERM, SIGINT, SIGHUP] {
      signal(sig) { sig in
        if ChildGuard.childPID > 0 { kill(ChildGuard.childPID, SIGKILL) }
        if ChildGuard.terminalFD >= 0 { tcsetattr(ChildGuard.terminalFD, TCSANOW, &ChildGuard.terminal) }
        for path in ChildGuard.socketPaths { unlink(path) }
        signal(sig, SIG_DFL)
        raise(sig)
      }
    }
  }

  /// Socket paths to unlink if keel is killed; C strings made up front, as the handler cannot allocate.
  nonisolated(unsafe) static var socketPaths: [UnsafeMutablePointer<CChar>] = []

  static func removeOnSignal(_ paths: [String]) {
    for pointer in socketPaths { free(pointer) }
    socketPaths = paths.compactMap { strdup($0) }
  }

  static func clear() {
    childPID = 0
    for pointer in socketPaths { free(pointer) }
    socketPaths = []
  }
  static func saveTerminal(_ t: termios, fd: Int32) { terminal = t; terminalFD = fd }
  static func forgetTerminal() { terminalFD = -1 }
}

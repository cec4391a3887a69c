#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// Runs QEMU with its serial port on our terminal: output is relayed unbuffered and fed to a
/// `ConsoleMonitor`; keystrokes go to the guest when stdin is a terminal (raw mode, Ctrl-] quits).
public final class ConsoleSession {
  public let executable: String
  public let arguments: [String]
  public let mode: ConsoleMonitor.Mode
  public let timeoutSeconds: Int?
  /// Written to stderr when the guest's output starts.
  public var banner = "keel: guest console follows (Ctrl-] to quit)"
  /// Called with QEMU's pid once it runs (benchmarks sample its CPU time).
  public var onStart: ((pid_t) -> Void)?

  /// After the hypervisor reports a stop, QEMU gets this long to exit on its own.
  static let stopGraceSeconds = 10.0
  static let detachByte: UInt8 = 0x1D

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
    var outputPipe: [Int32] = [0, 0]
    var inputPipe: [Int32] = [-1, -1]
    guard pipe(&outputPipe) == 0 else { throw KeelHostError.setup("pipe: \(errnoText())") }
    if interactive { guard pipe(&inputPipe) == 0 else { throw KeelHostError.setup("pipe: \(errnoText())") } }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if interactive {
      posix_spawn_file_actions_adddup2(&actions, inputPipe[0], STDIN_FILENO)
      posix_spawn_file_actions_addclose(&actions, inputPipe[1])
    } else {
      posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
    }
    posix_spawn_file_actions_adddup2(&actions, outputPipe[1], STDOUT_FILENO)
    posix_spawn_file_actions_addclose(&actions, outputPipe[0])

    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let status = posix_spawnp(&pid, executable, &actions, nil, argv, environ)
    guard status == 0 else {
      throw KeelHostError.setup("cannot start \(executable): \(String(cString: strerror(status)))")
    }
    close(outputPipe[1])
    if interactive { close(inputPipe[0]) }
    ChildGuard.install(pid: pid)
    defer { ChildGuard.clear() }
    onStart?(pid)

    var terminal: RawTerminal?
    if interactive { terminal = RawTerminal(fd: STDIN_FILENO) }
    defer { terminal?.restore() }

    let result = relay(pid: pid, output: outputPipe[0], input: interactive ? inputPipe[1] : -1)
    close(outputPipe[0])
    if interactive { close(inputPipe[1]) }
    return result
  }

  private func relay(pid: pid_t, output: Int32, input: Int32) -> Result {
    var monitor = ConsoleMonitor(mode: mode)
    let start = monotonicSeconds()
    var killDeadline: Double? = timeoutSeconds.map { start + Double($0) }
    var timedOut = false
    var detached = false
    var finishedAt: Double?
    var buffer = [UInt8](repeating: 0, count: 65536)
    var stdinOpen = input >= 0

    while true {
      let now = monotonicSeconds()
      if let deadline = killDeadline, now >= deadline {
        if finishedAt == nil && !detached { timedOut = true }
        kill(pid, SIGKILL)
        killDeadline = nil
      }
      var fds = [pollfd(fd: output, events: Int16(POLLIN), revents: 0)]
      if stdinOpen { fds.append(pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)) }
      let wait = killDeadline.map { max(0, Int32(($0 - now) * 1000) + 1) } ?? -1
      let ready = poll(&fds, nfds_t(fds.count), wait)
      if ready < 0 { if errno == EINTR { continue }; break }
      if fds[0].revents != 0 {
        let count = read(output, &buffer, buffer.count)
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }  // QEMU closed its end: it is exiting.
        let chunk = buffer[0..<count]
        var written = 0
        for event in monitor.feed(chunk) {
          if case .guestOutputBegins(let offset) = event {
            writeAll(STDOUT_FILENO, chunk[chunk.startIndex..<chunk.startIndex + offset])
            written = offset
            writeAll(STDERR_FILENO, Array((banner + (input >= 0 ? "\r\n" : "\n")).utf8)[...])
          }
        }
        writeAll(STDOUT_FILENO, chunk[(chunk.startIndex + written)...])
        if monitor.isFinished && finishedAt == nil {
          finishedAt = monotonicSeconds()
          killDeadline = finishedAt! + Self.stopGraceSeconds
        }
      }
      if stdinOpen && fds.count > 1 && fds[1].revents != 0 {
        let count = read(STDIN_FILENO, &buffer, buffer.count)
        if count <= 0 { stdinOpen = false; continue }
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
    }
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
    for sig in [SIGTERM, SIGINT, SIGHUP] {
      signal(sig) { sig in
        if ChildGuard.childPID > 0 { kill(ChildGuard.childPID, SIGKILL) }
        if ChildGuard.terminalFD >= 0 { tcsetattr(ChildGuard.terminalFD, TCSANOW, &ChildGuard.terminal) }
        signal(sig, SIG_DFL)
        raise(sig)
      }
    }
  }

  static func clear() { childPID = 0 }
  static func saveTerminal(_ t: termios, fd: Int32) { terminal = t; terminalFD = fd }
  static func forgetTerminal() { terminalFD = -1 }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where running VMs' management sockets live: `$KEEL_RUN_DIR/<vm>.sock`, or
/// `/tmp/keel-run-<uid>/<vm>.sock` (a private directory, checked to be ours).
public enum ManagementSocket {
  public static func directory(environment: [String: String]) -> String {
    if let dir = environment["KEEL_RUN_DIR"], !dir.isEmpty { return dir }
    return "/tmp/keel-run-\(getuid())"
  }

  public static func path(vm: String, environment: [String: String]) -> String {
    directory(environment: environment) + "/" + vm + ".sock"
  }

  /// Creates the directory if needed. The default one is shared /tmp, so it must be a real
  /// directory owned by us and closed to others; a `KEEL_RUN_DIR` is the user's choice.
  static func prepareDirectory(environment: [String: String]) throws(ManagementError) -> String {
    let dir = directory(environment: environment)
    let isDefault = environment["KEEL_RUN_DIR"].map(\.isEmpty) ?? true
    if mkdir(dir, 0o700) != 0 && errno != EEXIST {
      if isDefault || errno != ENOENT { throw .setup("cannot create \(dir): \(errnoText())") }
      // KEEL_RUN_DIR with missing parents.
      var partial = ""
      for component in dir.split(separator: "/", omittingEmptySubsequences: true) {
        partial += "/" + component
        if mkdir(partial, 0o700) != 0 && errno != EEXIST { throw .setup("cannot create \(partial): \(errnoText())") }
      }
    }
    var info = stat()
    guard lstat(dir, &info) == 0 else { throw .setup("cannot stat \(dir): \(errnoText())") }
    guard info.st_mode & S_IFMT == S_IFDIR else { throw .setup("\(dir) is not a directory") }
    if isDefault {
      guard info.st_uid == getuid() else { throw .setup("\(dir) belongs to another user; set KEEL_RUN_DIR") }
      guard info.st_mode & 0o077 == 0 else { throw .setup("\(dir) is open to other users (mode \(String(info.st_mode & 0o777, radix: 8))); set KEEL_RUN_DIR or chmod 700 it") }
    }
    return dir
  }

  static func address(_ path: String) -> sockaddr_un? {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard bytes.count < capacity else { return nil }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: bytes)
      raw[bytes.count] = 0
    }
    return address
  }

  static func streamSocket() -> Int32 {
    socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
  }

  /// 0 on success, else errno.
  static func connect(_ fd: Int32, to path: String) -> Int32 {
    guard var address = address(path) else { return ENAMETOOLONG }
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    return result == 0 ? 0 : errno
  }
}

public enum ManagementError: Error, Equatable, CustomStringConvertible {
  case setup(String)
  case nameInUse(vm: String, path: String)
  case notRunning(vm: String, path: String)
  case noReply(vm: String)
  case failed(String)

  public var description: String {
    switch self {
    case .setup(let text), .failed(let text): return text
    case .nameInUse(let vm, let path): return "a VM named \(vm) is already running (its socket is \(path))"
    case .notRunning(let vm, let path): return "no running VM named \(vm) (no live socket at \(path))"
    case .noReply(let vm): return "\(vm): no reply from keel run"
    }
  }
}

/// The `keel guestinfo`/`pause`/`resume` side: one request, one reply line, then the connection closes.
public enum ManagementClient {
  /// `keel run` waits 10 s for the hypervisor; this leaves it room to say so itself.
  public static let replyTimeoutSeconds = 15.0

  public static func send(_ request: ManagementRequest, vm: String, environment: [String: String]) throws(ManagementError) -> ManagementReply {
    let path = ManagementSocket.path(vm: vm, environment: environment)
    guard VMConfiguration.isValidName(vm) else { throw .failed("\(quoted(vm)) is not a VM name") }
    let fd = ManagementSocket.streamSocket()
    guard fd >= 0 else { throw .setup("socket: \(errnoText())") }
    defer { close(fd) }
    let status = ManagementSocket.connect(fd, to: path)
    guard status == 0 else {
      if status == ENOENT || status == ECONNREFUSED { throw .notRunning(vm: vm, path: path) }
      throw .failed("cannot connect to \(path): \(String(cString: strerror(status)))")
    }
    signal(SIGPIPE, SIG_IGN)
    writeAll(fd, Array((request.wireLine + "\n").utf8))
    var reply: [UInt8] = []
    let deadline = monotonicSeconds() + replyTimeoutSeconds
    var buffer = [UInt8](repeating: 0, count: 4096)
    while !reply.contains(UInt8(ascii: "\n")) {
      let remaining = deadline - monotonicSeconds()
      guard remaining > 0 else { throw .noReply(vm: vm) }
      var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let ready = poll(&descriptor, 1, Int32(remaining * 1000) + 1)
      if ready < 0 && errno == EINTR { continue }
      if ready <= 0 { continue }
      let count = read(fd, &buffer, buffer.count)
      if count < 0 && errno == EINTR { continue }
      if count <= 0 { break }
      reply += buffer[0..<count]
    }
    guard let end = reply.firstIndex(of: UInt8(ascii: "\n")) else { throw .noReply(vm: vm) }
    return ManagementReply(line: String(decoding: reply[..<end], as: UTF8.self))
  }
}

/// The `keel run` side: listens on one socket per VM name (plus `vm<i>` aliases), queues
/// requests, and hands the session one hypervisor command at a time. Replies that do not come
/// within `replyTimeoutSeconds` are answered with an error; it is driven by the session's poll loop.
final class ManagementServer {
  static let replyTimeoutSeconds = 10.0
  static let maxRequest = 64 * 1024

  struct Listener { var fd: Int32; var path: String; var vm: String }
  struct Client { var vm: String; var buffer: [UInt8] }

  private(set) var listeners: [Listener] = []
  /// Warnings for the user (aliases skipped because another run holds them).
  private(set) var warnings: [String] = []
  private var clients: [Int32: Client] = [:]
  private var queue: [(fd: Int32, command: String)] = []
  private var inFlight: (fd: Int32, deadline: Double)?

  /// - Parameters:
  ///   - vms: VM names in config order; `vm<i>` aliases are added where they are free.
  ///   - strict: a VM name held by a live socket is an error (otherwise a warning and no socket).
  init(vms: [String], environment: [String: String], strict: Bool) throws(ManagementError) {
    let dir = try ManagementSocket.prepareDirectory(environment: environment)
    do {
      for (index, vm) in vms.enumerated() {
        try listen(vm: vm, name: vm, directory: dir, strict: strict)
        let alias = "vm\(index)"
        if alias != vm { try listen(vm: vm, name: alias, directory: dir, strict: false) }
      }
    } catch {
      close()
      throw error
    }
  }

  var socketPaths: [String] { listeners.map(\.path) }
  var isAwaitingReply: Bool { inFlight != nil }
  var nextDeadline: Double? { inFlight?.deadline }

  private func listen(vm: String, name: String, directory: String, strict: Bool) throws(ManagementError) {
    let path = directory + "/" + name + ".sock"
    guard ManagementSocket.address(path) != nil else { throw .setup("socket path too long: \(path); set KEEL_RUN_DIR to a shorter directory") }
    var info = stat()
    if lstat(path, &info) == 0 {
      guard info.st_mode & S_IFMT == S_IFSOCK else { throw .setup("\(path) exists and is not a socket") }
      let probe = ManagementSocket.streamSocket()
      let status = ManagementSocket.connect(probe, to: path)
      Glibc.close(probe)
      if status == 0 {
        if strict { throw .nameInUse(vm: name, path: path) }
        warnings.append("\(name) is in use by another keel run; \(vm) has no socket of that name")
        return
      }
      unlink(path)  // left behind by a keel run that was killed
    }
    let fd = ManagementSocket.streamSocket()
    guard fd >= 0 else { throw .setup("socket: \(errnoText())") }
    guard var address = ManagementSocket.address(path) else { Glibc.close(fd); throw .setup("socket path too long: \(path)") }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0 else { let text = errnoText(); Glibc.close(fd); throw .setup("cannot bind \(path): \(text)") }
    guard Glibc.listen(fd, 8) == 0 else { let text = errnoText(); Glibc.close(fd); unlink(path); throw .setup("cannot listen on \(path): \(text)") }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    listeners.append(Listener(fd: fd, path: path, vm: vm))
  }

  /// Descriptors to poll for reading.
  var descriptors: [Int32] { listeners.map(\.fd) + clients.keys.sorted() }

  /// Something to read on `fd`: a new connection or request bytes.
  func readable(_ fd: Int32) {
    if let listener = listeners.first(where: { $0.fd == fd }) {
      // accept4 is not visible from Swift's Glibc; QEMU is spawned on this thread, so no race.
      let client = accept(fd, nil, nil)
      guard client >= 0 else { return }
      _ = fcntl(client, F_SETFD, FD_CLOEXEC)
      _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
      clients[client] = Client(vm: listener.vm, buffer: [])
      return
    }
    guard var client = clients[fd] else { return }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = read(fd, &buffer, buffer.count)
    if count < 0 && (errno == EINTR || errno == EAGAIN) { return }
    if count <= 0 { drop(fd); return }
    client.buffer += buffer[0..<count]
    if let end = client.buffer.firstIndex(of: UInt8(ascii: "\n")) {
      let line = String(decoding: client.buffer[..<end], as: UTF8.self)
      clients[fd] = Client(vm: client.vm, buffer: [])
      guard let request = ManagementRequest.parse(wireLine: line) else {
        respond(fd, .error("malformed request"))
        return
      }
      queue.append((fd, request.hypervisorCommand(vm: client.vm)))
    } else if client.buffer.count > Self.maxRequest {
      respond(fd, .error("request too long"))
    } else {
      clients[fd] = client
    }
  }

  /// The next command to write to the serial input, if the channel is free; starts its clock.
  func nextCommand(now: Double) -> String? {
    guard inFlight == nil, !queue.isEmpty else { return nil }
    let next = queue.removeFirst()
    inFlight = (next.fd, now + Self.replyTimeoutSeconds)
    return next.command
  }

  /// A `keel: mgmt:` line arrived. One command is outstanding at a time, so it is that one's.
  func deliver(replyLine: String) {
    guard let current = inFlight else { return }  // late reply to a command that timed out
    inFlight = nil
    respond(current.fd, ManagementReply(line: replyLine))
  }

  func expire(now: Double) {
    guard let current = inFlight, now >= current.deadline else { return }
    inFlight = nil
    respond(current.fd, .error("no reply from the hypervisor within \(Int(Self.replyTimeoutSeconds)) s"))
  }

  /// QEMU is gone: everyone still waiting is told, and the sockets disappear.
  func close(reason: String = "the machine stopped") {
    if let current = inFlight { respond(current.fd, .error(reason)); inFlight = nil }
    for item in queue { respond(item.fd, .error(reason)) }
    queue.removeAll()
    for fd in clients.keys { Glibc.close(fd) }
    clients.removeAll()
    for listener in listeners {
      Glibc.close(listener.fd)
      unlink(listener.path)
    }
    listeners.removeAll()
  }

  private func respond(_ fd: Int32, _ reply: ManagementReply) {
    if clients[fd] != nil {
      let bytes = Array((reply.line + "\n").utf8)
      _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
    drop(fd)
  }

  private func drop(_ fd: Int32) {
    guard clients.removeValue(forKey: fd) != nil else { return }
    queue.removeAll { $0.fd == fd }
    // The command stays outstanding (its reply must still be consumed), but the descriptor
    // number may be reused by the next client, which must not receive this reply.
    if let current = inFlight, current.fd == fd { inFlight = (-1, current.deadline) }
    Glibc.close(fd)
  }
}

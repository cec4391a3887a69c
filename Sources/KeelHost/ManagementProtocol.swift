import KeelVM

/// What `keel guestinfo`/`pause`/`resume`/`stat`/`stop`/`reset` ask a running `keel run` over
/// its Unix socket.
///
/// The VM is implied by the socket the request arrives on, so the wire line carries no name:
/// `guestinfo <key>`, `guestinfo <key> <escaped value>`, `pause`, `resume`, `stat`, `shutdown`,
/// `poweroff`, `reset`.
/// `keel run` turns it into the hypervisor's management command (protocols.md) for that VM.
public enum ManagementRequest: Equatable, Sendable {
  case getGuestInfo(key: String)
  case setGuestInfo(key: String, value: String)
  case pause
  case resume
  /// CPU use, state and counters (`key=value` pairs).
  case stat
  /// Graceful stop: the VM's virtual power button.
  case shutdown
  /// Forced stop, as pulling the plug.
  case powerOff
  case reset

  /// The requests that are a single word on the wire and in the hypervisor's command.
  static let verbs: [(ManagementRequest, String)] = [(.pause, "pause"), (.resume, "resume"), (.stat, "stat"),
                                                     (.shutdown, "shutdown"), (.powerOff, "poweroff"), (.reset, "reset")]
  var verb: String? { Self.verbs.first { $0.0 == self }?.1 }

  public enum Problem: Error, Equatable, CustomStringConvertible {
    case badKey(String)
    case forbiddenByte(UInt8)
    case emptyValue
    public var description: String {
      switch self {
      case .badKey(let key): return "\(quoted(key)) is not a guestinfo key (letters, digits, '.', '_', ':', '-')"
      case .forbiddenByte(let byte): return "the value contains control character \(VMXFile.hexByte(byte)); only tab and newline can be sent"
      case .emptyValue: return "an empty value cannot be sent (the management protocol has no spelling for it)"
      }
    }
  }

  /// Accepts keys with or without the `guestinfo.` prefix, as users copy them from `.vmx` files.
  public static func guestInfo(key: String, value: String?) throws(Problem) -> ManagementRequest {
    var bare = key
    if VMXFile.foldCase(bare).hasPrefix("guestinfo.") { bare = String(bare.dropFirst("guestinfo.".count)) }
    guard VMConfiguration.isValidGuestInfoKey(bare) else { throw .badKey(key) }
    guard let value else { return .getGuestInfo(key: bare) }
    if let byte = ProtocolEscaping.forbiddenByte(in: value) { throw .forbiddenByte(byte) }
    guard !value.isEmpty else { throw .emptyValue }
    return .setGuestInfo(key: bare, value: value)
  }

  public var wireLine: String {
    switch self {
    case .getGuestInfo(let key): return "guestinfo \(key)"
    case .setGuestInfo(let key, let value): return "guestinfo \(key) \(ProtocolEscaping.escape(value))"
    default: return verb!
    }
  }

  /// Parses what a client sent; nil for anything malformed (the client is another local user's
  /// process as far as `keel run` knows, so nothing it sends is trusted to be well-formed).
  public static func parse(wireLine line: String) -> ManagementRequest? {
    guard !line.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return nil }
    if let (request, _) = Self.verbs.first(where: { $0.1 == line }) { return request }
    guard line.hasPrefix("guestinfo ") else { return nil }
    let rest = line.dropFirst("guestinfo ".count)
    guard let space = rest.firstIndex(of: " ") else {
      return VMConfiguration.isValidGuestInfoKey(String(rest)) ? .getGuestInfo(key: String(rest)) : nil
    }
    let key = String(rest[..<space])
    let value = ProtocolEscaping.unescape(String(rest[rest.index(after: space)...]))
    guard VMConfiguration.isValidGuestInfoKey(key), !value.isEmpty, ProtocolEscaping.forbiddenByte(in: value) == nil else { return nil }
    return .setGuestInfo(key: key, value: value)
  }

  /// The line written after 0x1C into the serial input (without the trailing newline).
  public func hypervisorCommand(vm: String) -> String {
    switch self {
    case .getGuestInfo(let key): return "guestinfo \(vm) \(key)"
    case .setGuestInfo(let key, let value): return "guestinfo \(vm) \(key) \(ProtocolEscaping.escape(value))"
    default: return "\(verb!) \(vm)"
    }
  }
}

/// The hypervisor's answer, `keel: mgmt: ok[ <text>]` or `keel: mgmt: error <text>`, without the
/// `keel: mgmt: ` prefix. The same text travels back over the socket.
public enum ManagementReply: Equatable, Sendable {
  case ok(String?)
  case error(String)

  public init(line: String) {
    var text = Substring(line)
    while text.last == "\r" || text.last == "\n" { text = text.dropLast() }
    if text == "ok" { self = .ok(nil); return }
    if text.hasPrefix("ok ") { self = .ok(String(text.dropFirst(3))); return }
    if text.hasPrefix("error ") { self = .error(String(text.dropFirst(6))); return }
    self = .error("unexpected reply: \(text)")
  }

  public var line: String {
    switch self {
    case .ok(let text?): return "ok \(text)"
    case .ok(nil): return "ok"
    case .error(let text): return "error \(text)"
    }
  }
}

/// Takes the hypervisor's `keel: mgmt: …` reply lines out of the console stream.
///
/// Replies start at column 0. Bytes at the start of a line that could still become the prefix
/// are held back, but only while a command is in flight (`armed`); otherwise the caller releases
/// them at once, so typing at the start of a line is never delayed. Chunk boundaries do not matter.
public struct ManagementReplyFilter: Sendable {
  static let prefix = Array("keel: mgmt: ".utf8)
  static let maxReply = 64 * 1024

  private var atLineStart = true
  private var held: [UInt8] = []
  private var collecting = false

  public init() {}

  public var isHolding: Bool { !held.isEmpty }

  /// Returns the bytes for the console and the reply lines (text after the prefix, no line end).
  public mutating func feed<Bytes: Collection>(_ bytes: Bytes) -> (output: [UInt8], replies: [String]) where Bytes.Element == UInt8 {
    var output: [UInt8] = []
    var replies: [String] = []
    output.reserveCapacity(bytes.count)
    for byte in bytes {
      if collecting {
        if byte == UInt8(ascii: "\n") {
          var text = held[Self.prefix.count...]
          while text.last == UInt8(ascii: "\r") { text = text.dropLast() }
          replies.append(String(decoding: text, as: UTF8.self))
          held.removeAll(keepingCapacity: true)
          collecting = false
          atLineStart = true
        } else if held.count < Self.maxReply {
          held.append(byte)
        }
        continue
      }
      if atLineStart {
        if byte == Self.prefix[held.count] {
          held.append(byte)
          if held.count == Self.prefix.count { collecting = true }
          continue
        }
        output += held
        held.removeAll(keepingCapacity: true)
      }
      output.append(byte)
      atLineStart = byte == UInt8(ascii: "\n")
    }
    return (output, replies)
  }

  /// Gives back what is being held (nothing is expected, or the stream ended).
  public mutating func release() -> [UInt8] {
    let bytes = held
    held.removeAll(keepingCapacity: true)
    if !bytes.isEmpty { atLineStart = false; collecting = false }
    return bytes
  }
}

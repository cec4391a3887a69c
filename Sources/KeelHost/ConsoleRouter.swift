/// Splits the machine's console stream by VM: with several VMs the hypervisor prints each guest
/// line as `[name] text`, and a VM with a `serial0` file gets its lines there, prefix stripped,
/// instead of on stdout. Everything else (other VMs, `keel: ` lines) stays on the console.
///
/// Byte-fed like `ConsoleMonitor`: only the start of a line is held back, and only while it can
/// still become a routed prefix, so prompts without a newline still show at once.
public struct ConsoleRouter: Sendable {
  public enum Destination: Equatable, Sendable {
    case console
    /// Index into the `names` the router was made with.
    case file(Int)
  }

  private let prefixes: [[UInt8]]
  private enum State { case lineStart, console, file(Int) }
  private var state = State.lineStart
  private var held: [UInt8] = []

  /// - Parameter names: the VMs whose lines go to their own file.
  public init(names: [String]) { prefixes = names.map { Array("[\($0)] ".utf8) } }

  /// The bytes, in order, with where each piece goes (adjacent bytes with one destination are one piece).
  public mutating func feed<Bytes: Collection>(_ bytes: Bytes) -> [(Destination, [UInt8])] where Bytes.Element == UInt8 {
    var out: [(Destination, [UInt8])] = []
    func emit(_ destination: Destination, _ byte: UInt8) {
      if let last = out.last, last.0 == destination { out[out.count - 1].1.append(byte) } else { out.append((destination, [byte])) }
    }
    for byte in bytes {
      switch state {
      case .console:
        emit(.console, byte)
        if byte == UInt8(ascii: "\n") { state = .lineStart }
      case .file(let index):
        emit(.file(index), byte)
        if byte == UInt8(ascii: "\n") { state = .lineStart }
      case .lineStart:
        held.append(byte)
        // VM names cannot contain "]", so at most one prefix matches and none is a prefix of another.
        if let index = prefixes.firstIndex(of: held) {
          state = .file(index)
          held.removeAll()
        } else if !prefixes.contains(where: { $0.starts(with: held) }) {
          for b in held { emit(.console, b) }
          held.removeAll()
          state = byte == UInt8(ascii: "\n") ? .lineStart : .console
        }
      }
    }
    return out
  }

  /// What is still held back when the stream ends (a lone partial prefix), for the console.
  public mutating func finish() -> [UInt8] {
    defer { held.removeAll(); state = .lineStart }
    return held
  }
}

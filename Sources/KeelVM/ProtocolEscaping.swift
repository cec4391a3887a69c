/// The value escaping shared by the CLI↔hypervisor protocols (docs/protocols.md): the
/// configuration module keel loads next to the hypervisor and the management console.
/// `\\`, `\n`, `\t`, and `\s` for a space at either end (inner spaces stay literal), so a value is
/// always the rest of one line and survives whitespace trimming. The one codec for both sides.
public enum ProtocolEscaping {
  public static func escape(_ bytes: [UInt8]) -> [UInt8] {
    let firstInner = bytes.firstIndex { $0 != 32 } ?? bytes.count
    let lastInner = bytes.lastIndex { $0 != 32 } ?? -1
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    for (index, byte) in bytes.enumerated() {
      switch byte {
      case 92: out += [92, 92]
      case 10: out += [92, UInt8(ascii: "n")]
      case 9: out += [92, UInt8(ascii: "t")]
      case 32 where index < firstInner || index > lastInner: out += [92, UInt8(ascii: "s")]
      default: out.append(byte)
      }
    }
    return out
  }

  /// Lenient: an unknown escape (or a lone trailing backslash) is kept as written, so nothing
  /// the other side sends is lost.
  public static func unescape(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var i = 0
    while i < bytes.count {
      let byte = bytes[i]
      i += 1
      guard byte == 92, i < bytes.count else { out.append(byte); continue }
      switch bytes[i] {
      case 92: out.append(92)
      case UInt8(ascii: "n"): out.append(10)
      case UInt8(ascii: "t"): out.append(9)
      case UInt8(ascii: "s"): out.append(32)
      default: out += [byte, bytes[i]]
      }
      i += 1
    }
    return out
  }

  /// A byte the protocols cannot carry even escaped: control characters other than tab and
  /// newline (0x1C would start a management command, NUL would end the config module), and DEL.
  public static func forbiddenByte(in bytes: some Sequence<UInt8>) -> UInt8? {
    bytes.first { ($0 < 0x20 && $0 != 9 && $0 != 10) || $0 == 0x7F }
  }
}

/// A VMware `.vmx` file as written on disk: `key = "value"` lines, `#` comments, blank lines.
///
/// Only the syntax lives here; which keys mean what is `VMConfiguration`'s business.
/// Keys compare case-insensitively, as VMware treats them. Values use VMware's `|XX` escape
/// (two hex digits, one byte), so `|22` is a quote and `|7C` a literal `|`.
/// Byte-based and Foundation-free, so the same parser could move into a portable module.
public struct VMXFile: Equatable, Sendable {
  public struct Entry: Equatable, Sendable {
    /// As written in the file (case preserved, for messages).
    public var key: String
    public var value: String
    /// 1-based.
    public var line: Int
  }

  /// The file's name as it should appear in messages (`web.vmx`).
  public var fileName: String
  public var entries: [Entry]

  public init(fileName: String, entries: [Entry]) { self.fileName = fileName; self.entries = entries }

  public func entry(_ key: String) -> Entry? {
    let wanted = Self.foldCase(key)
    return entries.first { Self.foldCase($0.key) == wanted }
  }

  public static func parse(_ text: String, fileName: String) throws(VMXError) -> VMXFile {
    try parse(bytes: Array(text.utf8), fileName: fileName)
  }

  public static func parse(bytes: [UInt8], fileName: String) throws(VMXError) -> VMXFile {
    var entries: [Entry] = []
    var firstLine: [String: Int] = [:]
    var start = 0
    // A UTF-8 byte order mark is what Windows editors put in front; it is not part of the first key.
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
    var lineNumber = 0
    while start <= bytes.count {
      lineNumber += 1
      var end = start
      while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
      var lineEnd = end
      if lineEnd > start && bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
      if let entry = try parseLine(bytes[start..<lineEnd], line: lineNumber, fileName: fileName) {
        let folded = foldCase(entry.key)
        if let first = firstLine[folded] {
          throw VMXError(fileName: fileName, line: lineNumber, key: entry.key, message: "duplicate key (first set on line \(first))")
        }
        firstLine[folded] = lineNumber
        entries.append(entry)
      }
      if end == bytes.count { break }
      start = end + 1
    }
    return VMXFile(fileName: fileName, entries: entries)
  }

  static func parseLine(_ line: ArraySlice<UInt8>, line number: Int, fileName: String) throws(VMXError) -> Entry? {
    func fail(_ key: String?, _ message: String) -> VMXError {
      VMXError(fileName: fileName, line: number, key: key, message: message)
    }
    var i = line.startIndex
    skipBlanks(line, &i)
    if i == line.endIndex || line[i] == UInt8(ascii: "#") { return nil }

    let keyStart = i
    while i < line.endIndex && !isBlank(line[i]) && line[i] != UInt8(ascii: "=") { i += 1 }
    let keyBytes = line[keyStart..<i]
    guard !keyBytes.isEmpty else { throw fail(nil, "missing key before '='") }
    let key = String(decoding: keyBytes, as: UTF8.self)
    guard keyBytes.allSatisfy(isKeyByte) else { throw fail(nil, "\(quoted(key)) is not a valid key (letters, digits, '.', '_', ':', '-')") }
    skipBlanks(line, &i)
    guard i < line.endIndex, line[i] == UInt8(ascii: "=") else { throw fail(key, "expected '=' after the key") }
    i += 1
    skipBlanks(line, &i)
    guard i < line.endIndex, line[i] != UInt8(ascii: "#") else { throw fail(key, "missing value (write \"\" for an empty one)") }

    var value: [UInt8] = []
    if line[i] == UInt8(ascii: "\"") {
      i += 1
      var closed = false
      while i < line.endIndex {
        let byte = line[i]
        if byte == UInt8(ascii: "\"") { closed = true; i += 1; break }
        if byte == UInt8(ascii: "|") {
          let digits = line[(i + 1)..<min(i + 3, line.endIndex)]
          guard digits.count == 2, let high = hexValue(digits.first!), let low = hexValue(digits.last!) else {
            let shown = String(decoding: line[i..<min(i + 3, line.endIndex)], as: UTF8.self)
            throw fail(key, "bad escape \(quoted(shown)) (use |XX with two hex digits, e.g. |22 for a quote, |7C for |)")
          }
          value.append(high << 4 | low)
          i += 3
          continue
        }
        guard byte >= 0x20 || byte == UInt8(ascii: "\t") else { throw fail(key, "control character \(hexByte(byte)) in the value (escape it as |\(hexDigits(byte)))") }
        value.append(byte)
        i += 1
      }
      guard closed else { throw fail(key, "unterminated quoted value") }
    } else {
      // VMware writes every value quoted but reads a bare word too.
      while i < line.endIndex && !isBlank(line[i]) && line[i] != UInt8(ascii: "#") {
        guard line[i] != UInt8(ascii: "\"") else { throw fail(key, "stray quote in an unquoted value") }
        guard line[i] >= 0x20 else { throw fail(key, "control character \(hexByte(line[i])) in the value") }
        value.append(line[i])
        i += 1
      }
    }
    skipBlanks(line, &i)
    guard i == line.endIndex || line[i] == UInt8(ascii: "#") else {
      throw fail(key, "unexpected text after the value: \(quoted(String(decoding: line[i...], as: UTF8.self)))")
    }
    guard let text = String(validating: value, as: UTF8.self) else { throw fail(key, "value is not valid UTF-8") }
    return Entry(key: key, value: text, line: number)
  }

  /// The `.vmx` spelling of a value: quoted, with `"`, `|`, `#` and control bytes as `|XX`.
  public static func quote(_ value: String) -> String {
    var out: [UInt8] = [UInt8(ascii: "\"")]
    for byte in value.utf8 {
      if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "|") || byte == UInt8(ascii: "#") || byte < 0x20 || byte == 0x7F {
        out += Array(("|" + hexDigits(byte)).utf8)
      } else {
        out.append(byte)
      }
    }
    out.append(UInt8(ascii: "\""))
    return String(decoding: out, as: UTF8.self)
  }

  static func foldCase(_ key: String) -> String {
    String(decoding: key.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
  }

  static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

  static func skipBlanks(_ line: ArraySlice<UInt8>, _ i: inout Int) {
    while i < line.endIndex && isBlank(line[i]) { i += 1 }
  }

  static func isKeyByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
    case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"): return true
    default: return false
    }
  }

  static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
  }

  static func hexDigits(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF".utf8)
    return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
  }

  static func hexByte(_ byte: UInt8) -> String { "0x" + hexDigits(byte) }
}

/// One problem in a `.vmx` file, printed as `web.vmx:7: numvcpus: "two" is not a number`.
public struct VMXError: Error, Equatable, Sendable, CustomStringConvertible {
  public var fileName: String
  /// nil when the problem is about something missing rather than a line.
  public var line: Int?
  public var key: String?
  public var message: String

  public init(fileName: String, line: Int?, key: String?, message: String) {
    self.fileName = fileName; self.line = line; self.key = key; self.message = message
  }

  public var description: String {
    var text = fileName
    if let line { text += ":\(line)" }
    text += ": "
    if let key { text += "\(key): " }
    return text + message
  }
}

func quoted(_ text: String) -> String { "\"" + text + "\"" }

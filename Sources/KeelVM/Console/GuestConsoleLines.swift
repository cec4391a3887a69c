/// A VM's console output on the host console: raw when the VM has the console to itself (the
/// only VM, or the one a person switched the console to), so an interactive shell echoes at
/// once; otherwise in whole lines the hypervisor prefixes with `[name] `, so that VMs sharing the
/// console never mix within a line.
public struct GuestConsoleLines: Sendable {
  /// A longer line is cut here: a guest that never ends its line must not hold the console.
  public static let maxLine = 160
  public private(set) var line: [UInt8] = []

  public init() {}

  /// One byte of output. True: show it as it is (`emit` got any partial line first). False: it
  /// was kept, and `emit` got the line it completed, if any, ending in LF (CRs are dropped).
  public mutating func write(_ byte: UInt8, raw: Bool, emit: ([UInt8]) -> Void) -> Bool {
    guard !raw else {
      flush(ending: false, emit: emit)
      return true
    }
    if byte == 13 { return false }
    line.append(byte)
    if byte == 10 || line.count >= Self.maxLine {
      if byte != 10 { line.append(10) }
      emit(line)
      line.removeAll(keepingCapacity: true)
    }
    return false
  }

  /// A partial line goes out, with a line end if `ending` (before a report about the VM).
  public mutating func flush(ending: Bool, emit: ([UInt8]) -> Void) {
    guard !line.isEmpty else { return }
    emit(ending ? line + [10] : line)
    line.removeAll()
  }
}

/// How the hypervisor's own lines and the guests' output share one serial console: the
/// hypervisor's lines always start at column 0, so tools can parse them, and end in CRLF.
public struct ConsoleFraming: Sendable {
  public private(set) var atLineStart = true

  public init() {}

  private mutating func emit(_ byte: UInt8, _ put: (UInt8) -> Void) {
    put(byte)
    atLineStart = byte == 10
  }

  private mutating func startLine(_ put: (UInt8) -> Void) {
    if !atLineStart { emit(13, put); emit(10, put) }
  }

  /// A line from the hypervisor itself: `keel: <text>`.
  public mutating func log(_ text: String, put: (UInt8) -> Void) {
    startLine(put)
    for b in "keel: ".utf8 { emit(b, put) }
    for b in text.utf8 { if b == 10 { emit(13, put) }; emit(b, put) }
    emit(13, put); emit(10, put)
  }

  /// One line of a VM's console when several VMs share the host console: `[name] <line>`.
  public mutating func guestLine(_ name: String, _ line: [UInt8], put: (UInt8) -> Void) {
    startLine(put)
    emit(UInt8(ascii: "["), put)
    for b in name.utf8 { emit(b, put) }
    emit(UInt8(ascii: "]"), put); emit(32, put)
    for b in line { if b == 10 { emit(13, put) }; emit(b, put) }
  }

  /// Text for a person (the status screen), control sequences included: as it is.
  public mutating func raw(_ text: String, put: (UInt8) -> Void) {
    for b in text.utf8 { emit(b, put) }
    atLineStart = true
  }

  /// A byte of a VM's raw console output.
  public mutating func guestByte(_ byte: UInt8, put: (UInt8) -> Void) { emit(byte, put) }
}

/// RPCI requests (guest -> host text commands, open-vm-tools `rpcout.c` conventions): every reply
/// starts with "1 " (success) or "0 " (failure), or `RpcOut_send` rejects it.
extension Backdoor {
  /// Computes the reply to one complete RPCI request.
  public mutating func rpci(_ request: [UInt8]) -> [UInt8] {
    var end = request.count
    if end > 0 && request[end - 1] == 0 { end -= 1 }   // some toolbox-cmd RPCs send strlen + 1
    let commandEnd = firstIndex(of: 0x20, in: request, from: 0, to: end)
    let argumentStart = commandEnd < end ? commandEnd + 1 : end
    var reply: [UInt8] = []

    if isLiteral(request, from: 0, to: commandEnd, "info-get") {
      if let key = guestInfoKey(request, from: argumentStart, to: end), let value = guestInfo.value(forKey: key) {
        append("1 ", to: &reply)
        reply.append(contentsOf: value)
      } else {
        append("0 No value found", to: &reply)
      }
    } else if isLiteral(request, from: 0, to: commandEnd, "info-set") {
      let keyEnd = firstIndex(of: 0x20, in: request, from: argumentStart, to: end)
      let valueStart = keyEnd < end ? keyEnd + 1 : end
      if let key = guestInfoKey(request, from: argumentStart, to: keyEnd) {
        var value: [UInt8] = []
        append(request, from: valueStart, to: end, to: &value)
        if guestInfo.setValue(value, forKey: key) {
          append("1 ", to: &reply)
        } else {
          append("0 Too much guestinfo data", to: &reply)
        }
      } else {
        append("0 Invalid key", to: &reply)
      }
    } else if isLiteral(request, from: 0, to: commandEnd, "log") {
      var text: [UInt8] = []
      append(request, from: argumentStart, to: end, to: &text)
      host.log(text)
      append("1 ", to: &reply)
    } else if isLiteral(request, from: 0, to: commandEnd, "tools.set.version") {
      if let version = parseDecimalUInt32(request, from: argumentStart, to: end) {
        toolsVersion = version
        append("1 ", to: &reply)
      } else {
        append("0 Invalid version", to: &reply)
      }
    } else if isLiteral(request, from: 0, to: commandEnd, "guestlib.info.get")
      && end - argumentStart == 1 && request[argumentStart] == 0x33   // "3"
    {
      append("1 ", to: &reply)
      appendGuestLibV3(to: &reply)
    } else {
      append("0 Unknown command", to: &reply)
    }
    return reply
  }

  /// The key after the `guestinfo.` prefix, or nil if there is no prefix or no key.
  func guestInfoKey(_ request: [UInt8], from start: Int, to end: Int) -> [UInt8]? {
    guard end - start > 10, hasLiteral(request, at: start, "guestinfo.") else { return nil }
    var key: [UInt8] = []
    append(request, from: start + 10, to: end, to: &key)
    return key
  }

  /// `VMGuestLibDataV3` (libguestlib `vmGuestLibInt.h`): version 3, a non-zero session id, then
  /// XDR data holding a big-endian stat count of zero (every statistic reads "not available").
  func appendGuestLibV3(to reply: inout [UInt8]) {
    var session = configuration.guestLibSessionID
    if session == 0 { session = Self.fold(host.uuid) ^ 0x4B45_454C }   // 'KEEL'
    if session == 0 { session = 1 }
    appendLittleEndian(UInt32(3), to: &reply)
    appendLittleEndian(session, to: &reply)
    appendLittleEndian(UInt32(4), to: &reply)
    appendBigEndian(UInt32(0), to: &reply)
  }
}

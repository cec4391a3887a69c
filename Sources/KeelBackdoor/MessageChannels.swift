/// GuestRPC message channels (`BDOOR_CMD_MESSAGE`, low-bandwidth only).
///
/// Bounds, so a hostile guest cannot exhaust hypervisor memory: at most `maxOpenChannels` channels
/// (opening one more evicts the least recently used, as VMware expires idle channels; its owner
/// then gets status 0 and reopens), at most `maxMessageSize` (64 KiB, `GUESTMSG_MAX_IN_SIZE`) per
/// message in either direction, and a bounded host command queue for TCLO.
public struct MessageChannelTable: Sendable {
  public static var maxMessageSize: Int { 64 * 1024 }
  /// `GUESTMSG_MAX_CHANNEL`: ids are 1...128.
  public static var maxChannelID: UInt16 { 128 }
  public static var maxQueuedTCLOCommands: Int { 16 }
  public static var maxKeptTCLOReplies: Int { 16 }

  struct Channel: Sendable {
    var id: UInt16
    var messageProtocol: MessageProtocol
    var usesCookies: Bool
    var cookieHigh: UInt32
    var cookieLow: UInt32
    var inbound: [UInt8] = []
    /// Set by SENDSIZE until the last payload byte arrives.
    var inboundExpected: Int? = nil
    var outbound: [UInt8]? = nil
    var outboundOffset = 0
    var lastUsed: UInt64
  }

  /// A fully received guest message that the owner must act on before the call returns.
  struct CompletedMessage {
    var slot: Int
    var messageProtocol: MessageProtocol
    var bytes: [UInt8]
  }

  struct Result {
    var status: MessageStatus = []
    var w1: UInt32? = nil
    /// New W3[31:16] (channel id for OPEN, message type for RECVSIZE/RECVPAYLOAD).
    var w3High: UInt16? = nil
    var cookies: (high: UInt32, low: UInt32)? = nil
    var completed: CompletedMessage? = nil
  }

  public let maxOpenChannels: Int
  var slots: [Channel?]
  var nextID: UInt16 = 1
  var cookieState: UInt64
  var clock: UInt64 = 0
  var tcloCommands: [[UInt8]] = []
  /// The guest's answers on TCLO channels ("OK ..."/"ERROR ..."), oldest first.
  public internal(set) var tcloReplies: [[UInt8]] = []

  /// `cookieSeed` makes cookies deterministic per VM; cookies only have to be unguessable enough
  /// to catch stale or foreign channel ids, not to be secret.
  public init(maxOpenChannels: Int = 8, cookieSeed: UInt64) {
    self.maxOpenChannels = max(1, min(maxOpenChannels, Int(Self.maxChannelID)))
    self.slots = []
    for _ in 0..<self.maxOpenChannels { slots.append(nil) }
    self.cookieState = cookieSeed
  }

  public var openChannelCount: Int {
    var count = 0
    for slot in slots where slot != nil { count += 1 }
    return count
  }

  public var queuedTCLOCommandCount: Int { tcloCommands.count }

  /// Queues a host command for the next TCLO poll. False when the queue is full or it is too big.
  public mutating func postTCLOCommand(_ command: [UInt8]) -> Bool {
    guard tcloCommands.count < Self.maxQueuedTCLOCommands, command.count <= Self.maxMessageSize else { return false }
    tcloCommands.append(command)
    return true
  }

  public mutating func takeTCLOReplies() -> [[UInt8]] {
    let replies = tcloReplies
    tcloReplies = []
    return replies
  }

  /// Sets the reply to a completed RPCI request (truncated to the message size limit).
  mutating func setReply(_ reply: [UInt8], slot: Int) {
    guard slots[slot] != nil else { return }
    var bounded = reply
    if bounded.count > Self.maxMessageSize { bounded.removeLast(bounded.count - Self.maxMessageSize) }
    slots[slot]!.outbound = bounded
    slots[slot]!.outboundOffset = 0
  }

  mutating func handle(type: MessageType, channelID: UInt16, cookieHigh: UInt32, cookieLow: UInt32, w1: UInt32) -> Result {
    clock &+= 1
    if type == .open { return open(w1: w1) }
    guard let slot = validatedSlot(channelID: channelID, cookieHigh: cookieHigh, cookieLow: cookieLow) else {
      return Result()
    }
    slots[slot]!.lastUsed = clock
    switch type {
    case .sendSize: return sendSize(slot: slot, size: w1)
    case .sendPayload: return sendPayload(slot: slot, word: w1)
    case .receiveSize: return receiveSize(slot: slot)
    case .receivePayload: return receivePayload(slot: slot, guestStatus: w1)
    case .receiveStatus: return receiveStatus(slot: slot)
    case .close:
      slots[slot] = nil
      return Result(status: .success)
    default:
      return Result()
    }
  }

  mutating func open(w1: UInt32) -> Result {
    let proto = MessageProtocol(rawValue: w1 & ~MessageProtocol.cookieFlag)
    guard proto == .rpci || proto == .tclo else { return Result() }
    let slot = freeSlotEvictingLeastRecentlyUsed()
    let id = unusedID()
    let usesCookies = w1 & MessageProtocol.cookieFlag != 0
    let cookie = usesCookies ? nextCookie() : 0
    let high = UInt32(truncatingIfNeeded: cookie >> 32)
    let low = UInt32(truncatingIfNeeded: cookie)
    slots[slot] = Channel(id: id, messageProtocol: proto, usesCookies: usesCookies,
                          cookieHigh: high, cookieLow: low, lastUsed: clock)
    return Result(status: .success, w3High: id, cookies: (high, low))
  }

  mutating func sendSize(slot: Int, size: UInt32) -> Result {
    slots[slot]!.inbound = []
    slots[slot]!.inboundExpected = nil
    if slots[slot]!.messageProtocol == .rpci { slots[slot]!.outbound = nil }   // a new request abandons the old reply
    guard size <= UInt32(Self.maxMessageSize) else { return Result() }
    if size == 0 { return Result(status: .success, completed: complete(slot: slot)) }
    slots[slot]!.inbound.reserveCapacity(Int(size))
    slots[slot]!.inboundExpected = Int(size)
    return Result(status: .success)
  }

  mutating func sendPayload(slot: Int, word: UInt32) -> Result {
    guard let expected = slots[slot]!.inboundExpected else { return Result() }
    let remaining = expected - slots[slot]!.inbound.count
    var index = 0
    while index < 4 && index < remaining {
      slots[slot]!.inbound.append(UInt8(truncatingIfNeeded: word >> UInt32(8 * index)))
      index += 1
    }
    guard slots[slot]!.inbound.count == expected else { return Result(status: .success) }
    return Result(status: .success, completed: complete(slot: slot))
  }

  mutating func complete(slot: Int) -> CompletedMessage {
    let message = CompletedMessage(slot: slot, messageProtocol: slots[slot]!.messageProtocol, bytes: slots[slot]!.inbound)
    slots[slot]!.inbound = []
    slots[slot]!.inboundExpected = nil
    if message.messageProtocol == .tclo && !message.bytes.isEmpty {
      if tcloReplies.count == Self.maxKeptTCLOReplies { tcloReplies.removeFirst() }
      tcloReplies.append(message.bytes)
    }
    return message
  }

  mutating func receiveSize(slot: Int) -> Result {
    if slots[slot]!.outbound == nil && slots[slot]!.messageProtocol == .tclo && !tcloCommands.isEmpty {
      slots[slot]!.outbound = tcloCommands.removeFirst()
    }
    guard let outbound = slots[slot]!.outbound else { return Result(status: .success) }
    slots[slot]!.outboundOffset = 0   // a repeated RECVSIZE restarts the transfer
    return Result(status: [.success, .doReceive], w1: UInt32(outbound.count), w3High: MessageType.sendSize.rawValue)
  }

  mutating func receivePayload(slot: Int, guestStatus: UInt32) -> Result {
    guard let outbound = slots[slot]!.outbound, slots[slot]!.outboundOffset < outbound.count else { return Result() }
    guard guestStatus & UInt32(MessageStatus.success.rawValue) != 0 else {
      // The guest gave up on this message (message.c error_quit).
      slots[slot]!.outbound = nil
      return Result(status: .success)
    }
    let offset = slots[slot]!.outboundOffset
    var word: UInt32 = 0
    var index = 0
    while index < 4 && offset + index < outbound.count {
      word |= UInt32(outbound[offset + index]) << UInt32(8 * index)
      index += 1
    }
    slots[slot]!.outboundOffset = offset + index
    return Result(status: .success, w1: word, w3High: MessageType.sendPayload.rawValue)
  }

  mutating func receiveStatus(slot: Int) -> Result {
    guard slots[slot]!.outbound != nil else { return Result() }
    // Delivered (W1 = 1) or refused by the guest (W1 = 0): either way the message is gone.
    slots[slot]!.outbound = nil
    slots[slot]!.outboundOffset = 0
    return Result(status: .success)
  }

  func validatedSlot(channelID: UInt16, cookieHigh: UInt32, cookieLow: UInt32) -> Int? {
    var slot = 0
    while slot < slots.count {
      if let channel = slots[slot], channel.id == channelID {
        if channel.usesCookies && (channel.cookieHigh != cookieHigh || channel.cookieLow != cookieLow) { return nil }
        return slot
      }
      slot += 1
    }
    return nil
  }

  mutating func freeSlotEvictingLeastRecentlyUsed() -> Int {
    var oldest = 0
    var slot = 0
    while slot < slots.count {
      guard let channel = slots[slot] else { return slot }
      if channel.lastUsed < slots[oldest]!.lastUsed { oldest = slot }
      slot += 1
    }
    slots[oldest] = nil
    return oldest
  }

  /// Rotates through 1...128 so a just-closed id is not handed out again at once.
  mutating func unusedID() -> UInt16 {
    while true {
      let candidate = nextID
      nextID = nextID == Self.maxChannelID ? 1 : nextID + 1
      var inUse = false
      for slot in slots { if let channel = slot, channel.id == candidate { inUse = true } }
      if !inUse { return candidate }   // terminates: at most 128 slots exist, at least one id is free
    }
  }

  /// SplitMix64; never yields a zero cookie pair.
  mutating func nextCookie() -> UInt64 {
    while true {
      cookieState &+= 0x9E37_79B9_7F4A_7C15
      var z = cookieState
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      z ^= z >> 31
      if z != 0 { return z }
    }
  }
}

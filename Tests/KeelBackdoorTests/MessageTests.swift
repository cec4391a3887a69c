import Testing
import KeelBackdoor

func storeWith(_ key: String, _ value: String) -> GuestInfoStore {
  var store = GuestInfoStore()
  store.setValue(bytes(value), forKey: bytes(key))
  return store
}

/// Reference §2.9: `vmware-rpctool "info-get guestinfo.foo"`, call by call.
@Test(arguments: [("bar", "1 bar"), (nil, "0 No value found")] as [(String?, String)])
func rpctoolInfoGetTrace(value: String?, expectedReply: String) {
  let store = value.map { storeWith("foo", $0) } ?? GuestInfoStore()
  let guest = Guest(Backdoor(host: FakeHost(), guestInfo: store))

  let open = guest.call(w1: 0xC943_5052, w2: 0x0000_001E)
  #expect(open.w(2) == 0x0001_001E)
  let id = UInt16(truncatingIfNeeded: open.w(3) >> 16)
  #expect((1...128).contains(id))
  #expect(open.w(3) & 0xFFFF == 0x5658)
  #expect(open.x[4] >> 32 == 0 && open.x[5] >> 32 == 0)
  #expect(open.w(4) != 0 || open.w(5) != 0)
  #expect(changedRegisters(guest.calls[0].input, open) == [2, 3, 4, 5])
  let channel = Guest.Channel(id: id, cookieHigh: open.w(4), cookieLow: open.w(5))

  let request = bytes("info-get guestinfo.foo")
  #expect(request.count == 22)
  let sendSize = guest.message(1, channel, w1: 22)
  #expect(sendSize.w(2) == 0x0001_001E)
  #expect(changedRegisters(guest.calls[1].input, sendSize) == [2])
  var chunks = 0
  for offset in stride(from: 0, to: 22, by: 4) {
    var word: UInt32 = 0
    for i in 0..<min(4, 22 - offset) { word |= UInt32(request[offset + i]) << UInt32(8 * i) }
    if offset == 0 { #expect(word == 0x6F66_6E69) }   // "info"
    if offset == 4 { #expect(word == 0x7465_672D) }   // "-get"
    let out = guest.message(2, channel, w1: word)
    #expect(out.w(2) >> 16 == 0x0001)
    chunks += 1
  }
  #expect(chunks == 6)

  let receiveSize = guest.message(3, channel)
  #expect(receiveSize.w(2) >> 16 == 0x0003)
  #expect(receiveSize.w(3) >> 16 == 0x0001)
  #expect(receiveSize.w(3) & 0xFFFF == 0x5658)
  let length = Int(receiveSize.w(1))
  #expect(length == expectedReply.utf8.count)
  var reply: [UInt8] = []
  for _ in 0..<(length + 3) / 4 {
    let piece = guest.message(4, channel, w1: 1)
    #expect(piece.w(2) >> 16 == 0x0001)
    #expect(piece.w(3) >> 16 == 0x0002)
    #expect(changedRegisters(guest.calls[guest.calls.count - 1].input, piece) == [1, 2, 3])
    for i in 0..<4 where reply.count < length { reply.append(UInt8(truncatingIfNeeded: piece.w(1) >> UInt32(8 * i))) }
  }
  #expect(reply == bytes(expectedReply))
  #expect(guest.message(5, channel, w1: 1).w(2) >> 16 == 0x0001)
  let close = guest.message(6, channel)
  #expect(close.w(2) >> 16 == 0x0001)
  #expect(changedRegisters(guest.calls[guest.calls.count - 1].input, close) == [2])
  #expect(guest.backdoor.channels.openChannelCount == 0)
  // Every call of the trace left X0 (magic plus garbage), X6 and X7 alone.
  for (input, output) in guest.calls {
    #expect(output.x[0] == input.x[0] && output.x[6] == input.x[6] && output.x[7] == input.x[7])
  }
}

@Test func infoSetIsVisibleToTheHostAndBack() {
  let guest = Guest()
  #expect(guest.rpc(bytes("info-set guestinfo.ip 10.0.0.2 extra")) == bytes("1 "))
  #expect(guest.backdoor.guestInfo.value(forKey: bytes("ip")) == bytes("10.0.0.2 extra"))
  #expect(guest.rpc(bytes("info-get guestinfo.ip")) == bytes("1 10.0.0.2 extra"))
  guest.backdoor.guestInfo.setValue(bytes("from host"), forKey: bytes("ip"))
  #expect(guest.rpc(bytes("info-get guestinfo.ip\0")) == bytes("1 from host"))
  #expect(guest.rpc(bytes("info-set guestinfo.empty")) == bytes("1 "))
  #expect(guest.backdoor.guestInfo.value(forKey: bytes("empty")) == [])
  #expect(guest.rpc(bytes("info-set other.key x")) == bytes("0 Invalid key"))
  #expect(guest.rpc(bytes("info-get other.key")) == bytes("0 No value found"))
  #expect(guest.rpc(bytes("info-get guestinfo.")) == bytes("0 No value found"))
}

@Test func logAndToolsVersion() {
  let guest = Guest()
  #expect(guest.rpc(bytes("log hello from the guest\0")) == bytes("1 "))
  #expect(guest.backdoor.host.logged == [bytes("hello from the guest")])
  #expect(guest.backdoor.toolsVersion == nil)
  #expect(guest.rpc(bytes("tools.set.version 12352")) == bytes("1 "))
  #expect(guest.backdoor.toolsVersion == 12_352)
  #expect(guest.rpc(bytes("tools.set.version 0")) == bytes("1 "))
  #expect(guest.backdoor.toolsVersion == 0)
  #expect(guest.rpc(bytes("tools.set.version 99999999999")) == bytes("0 Invalid version"))
  #expect(guest.rpc(bytes("tools.set.version x1")) == bytes("0 Invalid version"))
  #expect(guest.backdoor.toolsVersion == 0)
}

@Test func unknownRequestsAndEmptyRequest() {
  let guest = Guest()
  #expect(guest.rpc(bytes("tools.capability.hgfs_server toolbox 1")) == bytes("0 Unknown command"))
  #expect(guest.rpc(bytes("info-getguestinfo.foo")) == bytes("0 Unknown command"))
  #expect(guest.rpc(bytes("guestlib.info.get 2")) == bytes("0 Unknown command"))
  #expect(guest.rpc([]) == bytes("0 Unknown command"))
}

@Test func guestLibVersion3Reply() throws {
  let guest = Guest()
  let reply = try #require(guest.rpc(bytes("guestlib.info.get 3")))
  #expect(Array(reply.prefix(2)) == bytes("1 "))
  let body = Array(reply.dropFirst(2))
  #expect(body.count >= 16)
  func le(_ at: Int, _ n: Int) -> UInt64 { (0..<n).reduce(0) { $0 | UInt64(body[at + $1]) << UInt64(8 * $1) } }
  #expect(le(0, 4) == 3)
  #expect(le(4, 8) != 0)
  let dataSize = Int(le(12, 4))
  #expect(body.count == 16 + dataSize)
  #expect(dataSize >= 4)
  #expect(Array(body[16..<20]) == [0, 0, 0, 0])   // XDR stat count, big-endian
  let configured = Guest(Backdoor(host: FakeHost(), configuration: BackdoorConfiguration(guestLibSessionID: 0xABCD)))
  let other = try #require(configured.rpc(bytes("guestlib.info.get 3")))
  #expect(Array(other[6..<14]) == [0xCD, 0xAB, 0, 0, 0, 0, 0, 0])
}

@Test func malformedSequencesFailOnlyThatCall() throws {
  let guest = Guest()
  let channel = try #require(guest.open())
  // Payload without a size.
  #expect(status(guest.message(2, channel, w1: 0x4141_4141)) == 0)
  // Wrong cookies, unknown channel.
  #expect(status(guest.message(1, Guest.Channel(id: channel.id, cookieHigh: channel.cookieHigh ^ 1, cookieLow: channel.cookieLow), w1: 4)) == 0)
  #expect(status(guest.message(1, Guest.Channel(id: channel.id, cookieHigh: channel.cookieHigh, cookieLow: ~channel.cookieLow), w1: 4)) == 0)
  #expect(status(guest.message(1, Guest.Channel(id: channel.id &+ 1, cookieHigh: channel.cookieHigh, cookieLow: channel.cookieLow), w1: 4)) == 0)
  // Oversize, then a size at the limit.
  #expect(status(guest.message(1, channel, w1: 64 * 1024 + 1)) == 0)
  #expect(status(guest.message(2, channel, w1: 0)) == 0)
  #expect(status(guest.message(1, channel, w1: 64 * 1024)) == 1)
  // Nothing to receive yet; receive payload/status without a message; unknown subtype.
  #expect(status(guest.message(3, channel)) == 1)
  #expect(status(guest.message(4, channel, w1: 1)) == 0)
  #expect(status(guest.message(5, channel, w1: 1)) == 0)
  #expect(status(guest.message(7, channel)) == 0)
  #expect(status(guest.message(0xFFFF, channel)) == 0)
  // The channel still works after all that.
  #expect(guest.send(bytes("log ok"), on: channel))
  #expect(guest.receive(on: channel) == bytes("1 "))
  // Payload past the announced size fails.
  #expect(guest.send(bytes("abc"), on: channel))
  #expect(status(guest.message(2, channel, w1: 0x41)) == 0)
  #expect(guest.close(channel))
  #expect(!guest.close(channel))
  #expect(status(guest.message(3, channel)) == 0)
  // Unknown protocols cannot be opened.
  #expect(guest.open(0x1234_5678) == nil)
}

@Test func guestAbortingAReceiveDropsTheReply() throws {
  let guest = Guest()
  let channel = try #require(guest.open())
  #expect(guest.send(bytes("info-get guestinfo.none"), on: channel))
  #expect(guest.message(3, channel).w(1) == 16)
  #expect(status(guest.message(4, channel, w1: 1)) == 1)
  #expect(status(guest.message(4, channel, w1: 0)) == 1)     // message.c error_quit
  #expect(status(guest.message(3, channel)) == 1)            // nothing pending any more
  #expect(guest.message(3, channel).w(2) >> 16 & 2 == 0)
}

@Test func repeatedReceiveSizeRestartsTheTransfer() throws {
  let guest = Guest()
  let channel = try #require(guest.open())
  #expect(guest.send(bytes("info-get guestinfo.x"), on: channel))
  _ = guest.message(3, channel)
  _ = guest.message(4, channel, w1: 1)
  #expect(guest.receive(on: channel) == bytes("0 No value found"))
}

@Test func channelsWithoutCookiesAreNotChecked() throws {
  let guest = Guest()
  var channel = try #require(guest.open(0x4943_5052))
  channel.cookieHigh = 0x1111
  channel.cookieLow = 0x2222
  #expect(guest.send(bytes("log x"), on: channel))
  #expect(guest.receive(on: channel) == bytes("1 "))
}

@Test func openChannelsAreBounded() throws {
  let guest = Guest()
  var channels: [Guest.Channel] = []
  for _ in 0..<8 { channels.append(try #require(guest.open())) }
  #expect(Set(channels.map(\.id)).count == 8)
  #expect(guest.backdoor.channels.openChannelCount == 8)
  _ = guest.message(3, channels[0])             // channel 1 is now the least recently used
  let ninth = try #require(guest.open())
  #expect(guest.backdoor.channels.openChannelCount == 8)
  #expect(status(guest.message(3, channels[1])) == 0, "evicted")
  #expect(status(guest.message(3, channels[0])) == 1)
  #expect(status(guest.message(3, ninth)) == 1)
  for channel in channels.dropFirst(2) + [ninth] { #expect(guest.close(channel)) }
  #expect(guest.backdoor.channels.openChannelCount == 1)
  // Ids stay in 1...128 and never collide with open channels however many come and go.
  for _ in 0..<1_000 {
    let channel = try #require(guest.open())
    #expect((1...128).contains(channel.id))
    #expect(channel.id != channels[0].id)
    #expect(guest.close(channel))
  }
  #expect(status(guest.message(3, channels[0])) == 1)
}

@Test func tcloChannelPollsTheHostQueue() throws {
  let guest = Guest()
  let tclo = try #require(guest.open(0xCF4C_4354))
  #expect(guest.send([], on: tclo))
  #expect(guest.receive(on: tclo) == [], "no command queued: no DORECV")
  let posted = guest.backdoor.postTCLOCommand(bytes("reset"))
  #expect(posted)
  #expect(guest.receive(on: tclo) == bytes("reset"))
  #expect(guest.send(bytes("OK ATR toolbox"), on: tclo))
  #expect(guest.receive(on: tclo) == [])
  let replies = guest.backdoor.takeTCLOReplies()
  #expect(replies == [bytes("OK ATR toolbox")])
  let noReplies = guest.backdoor.takeTCLOReplies()
  #expect(noReplies.isEmpty)
  var accepted = 0
  for _ in 0..<17 { if guest.backdoor.postTCLOCommand(bytes("ping")) { accepted += 1 } }
  #expect(accepted == 16)
  let oversize = guest.backdoor.postTCLOCommand([UInt8](repeating: 0x41, count: 64 * 1024 + 1))
  #expect(!oversize)
}

@Test func largestMessagesRoundTrip() throws {
  let guest = Guest()
  let value = [UInt8](repeating: 0x7A, count: 64 * 1024 - 30)
  let request = bytes("info-set guestinfo.big ") + value
  #expect(request.count <= 64 * 1024)
  #expect(guest.rpc(request) == bytes("1 "))
  #expect(guest.rpc(bytes("info-get guestinfo.big")) == bytes("1 ") + value)
}

@Test func guestInfoStoreLimits() {
  var store = GuestInfoStore(maxEntries: 2, maxTotalBytes: 20)
  var results: [Bool] = []
  results.append(store.setValue(bytes("12345"), forKey: bytes("a")))
  results.append(store.setValue(bytes("1"), forKey: bytes("b")))
  results.append(store.setValue(bytes("1"), forKey: bytes("c")))                        // entry limit
  results.append(store.setValue([UInt8](repeating: 1, count: 18), forKey: bytes("a")))  // byte limit
  results.append(store.setValue([UInt8](repeating: 1, count: 17), forKey: bytes("a")))
  results.append(store.setValue([], forKey: []))
  #expect(results == [true, true, false, false, true, false])
  #expect(store.totalBytes == 20)
  let removed = store.removeValue(forKey: bytes("b"))
  #expect(removed == bytes("1"))
  #expect(store.count == 1 && store.totalBytes == 18)

  let guest = Guest(Backdoor(host: FakeHost(), guestInfo: GuestInfoStore(maxEntries: 1)))
  #expect(guest.rpc(bytes("info-set guestinfo.a 1")) == bytes("1 "))
  #expect(guest.rpc(bytes("info-set guestinfo.b 1")) == bytes("0 Too much guestinfo data"))
}

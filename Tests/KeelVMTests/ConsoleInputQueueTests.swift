import Testing
import KeelVM

@Suite struct ConsoleInputQueueTests {
  @Test func bytesGoOutInOrderWhileTheUARTTakesThem() {
    var queue = ConsoleInputQueue()
    for b in Array("hello".utf8) { let taken = queue.append(b); #expect(taken) }
    #expect(queue.count == 5)
    var fifo: [UInt8] = []
    // A FIFO with room for three.
    queue.feed { byte in
      guard fifo.count < 3 else { return false }
      fifo.append(byte)
      return true
    }
    #expect(fifo == Array("hel".utf8))
    #expect(queue.count == 2)
    fifo.removeAll()
    queue.append(UInt8(ascii: "!"))
    queue.feed { fifo.append($0); return true }
    #expect(fifo == Array("lo!".utf8))
    #expect(queue.isEmpty)
  }

  @Test func aFullQueueDropsAndRefills() {
    var queue = ConsoleInputQueue(capacity: 4)
    for b: UInt8 in 1...4 { let taken = queue.append(b); #expect(taken) }
    #expect(queue.isFull)
    let dropped = !queue.append(5)
    #expect(dropped)
    var taken: [UInt8] = []
    queue.feed { b in taken.append(b); return taken.count < 2 }
    // The second byte was refused: it is still queued, first in line.
    #expect(taken == [1, 2])
    #expect(queue.count == 3 && !queue.isFull)
    let refilled = queue.append(6)
    #expect(refilled)
    #expect(queue.isFull)
    taken.removeAll()
    queue.feed { taken.append($0); return true }
    #expect(taken == [2, 3, 4, 6])
  }

  @Test func aRefusingUARTTakesNothing() {
    var queue = ConsoleInputQueue()
    queue.append(7)
    queue.feed { _ in false }
    #expect(queue.count == 1)
    queue.feed { _ in true }
    #expect(queue.isEmpty)
  }
}

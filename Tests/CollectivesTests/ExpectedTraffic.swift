// The traffic each algorithm must produce, derived here from the schedules as
// documented in docs/collectives.md, independently of the library's own
// `countedBytes`, so the counters are checked against a second derivation.

/// Bytes and messages one rank sends and receives in one allreduce.
struct Traffic: Equatable, CustomStringConvertible {
    var bytesSent = 0
    var bytesReceived = 0
    var messagesSent = 0
    var messagesReceived = 0

    var description: String {
        "sent \(bytesSent) B/\(messagesSent) msgs, received \(bytesReceived) B/\(messagesReceived) msgs"
    }
}

struct ExpectedTraffic {
    let ranks: Int
    let count: Int
    let maxMessageBytes: Int

    /// Messages a payload of `elements` floats travels as (an empty one is still one message).
    func messages(_ elements: Int) -> Int {
        let bytes = elements * 4
        return bytes == 0 ? 1 : (bytes + maxMessageBytes - 1) / maxMessageBytes
    }

    mutating func add(_ t: inout Traffic, sent elements: Int) {
        t.bytesSent += elements * 4
        t.messagesSent += messages(elements)
    }

    mutating func add(_ t: inout Traffic, received elements: Int) {
        t.bytesReceived += elements * 4
        t.messagesReceived += messages(elements)
    }

    /// Binomial reduce written the classic way (mask loop): at each mask a rank
    /// either sends its partial sum to rank - mask and stops, or receives from
    /// rank + mask if that exists. The broadcast mirrors it with directions reversed.
    /// Each whole-buffer transfer travels in pipeline segments of `segment` floats.
    mutating func tree(rank r: Int, segment: Int) -> Traffic {
        var t = Traffic()
        guard ranks > 1, count > 0 else { return t }
        func transfer(sent: Bool) {
            for start in stride(from: 0, to: count, by: segment) {
                if sent { add(&t, sent: min(segment, count - start)) } else { add(&t, received: min(segment, count - start)) }
            }
        }
        var mask = 1
        while mask < ranks {
            if r & mask != 0 {
                transfer(sent: true)       // up to the parent
                transfer(sent: false)      // the sum comes back down
                break
            } else if r + mask < ranks {
                transfer(sent: false)      // child's partial sum
                transfer(sent: true)       // the sum goes down to it
            }
            mask <<= 1
        }
        return t
    }

    /// Ring schedule simulated step by step over the documented partition:
    /// chunk i has count/p elements, plus one if i < count % p. Each chunk travels
    /// in pipeline segments of min(`segment`, largest chunk) floats (an empty chunk
    /// as one empty message); `segment` nil or 0: one segment per chunk.
    mutating func ring(rank r: Int, segment: Int? = nil) -> Traffic {
        var t = Traffic()
        guard ranks > 1, count > 0 else { return t }
        let p = ranks
        func length(_ i: Int) -> Int {
            let k = ((i % p) + p) % p
            return count / p + (k < count % p ? 1 : 0)
        }
        let seg = min(segment.flatMap { $0 > 0 ? $0 : nil } ?? Int.max, length(0))
        func transfer(_ elements: Int, sent: Bool) {
            var start = 0
            repeat {
                let n = min(seg, elements - start)
                if sent { add(&t, sent: n) } else { add(&t, received: n) }
                start += n
            } while start < elements
        }
        for s in 0..<(p - 1) {  // reduce-scatter
            transfer(length(r - s), sent: true)
            transfer(length(r - s - 1), sent: false)
        }
        for s in 0..<(p - 1) {  // allgather
            transfer(length(r + 1 - s), sent: true)
            transfer(length(r - s), sent: false)
        }
        return t
    }

    mutating func parameterServer(rank r: Int) -> Traffic {
        var t = Traffic()
        guard ranks > 1, count > 0 else { return t }
        for _ in 0..<(r == 0 ? ranks - 1 : 1) {
            add(&t, sent: count)
            add(&t, received: count)
        }
        return t
    }
}

import Foundation

/// The kernel's byte counters of one network interface (/sys/class/net/IFACE/statistics):
/// what really crossed the host's link, headers included, to hold the counted bytes to.
/// Inside a network namespace the counters are the namespace's own interface.
struct LinkCounters {
    let interface: String

    /// (sent, received) bytes since the interface came up, and the TCP segments the
    /// namespace has retransmitted (nil when /proc/net/snmp is unreadable); nil when the
    /// interface is unreadable. The interface counts a retransmitted segment again, the
    /// program's counters do not: the scaling lab nets them out to hold the two together.
    func read() -> (tx: Int, rx: Int, retransmits: Int?)? {
        guard !interface.isEmpty, !interface.contains("/"), let tx = value("tx_bytes"), let rx = value("rx_bytes") else { return nil }
        return (tx, rx, Self.retransmittedSegments())
    }

    /// `RetransSegs` of the Tcp lines of /proc/net/snmp (a header line, then a value line).
    static func retransmittedSegments(_ path: String = "/proc/net/snmp") -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let tcp = text.split(separator: "\n").filter { $0.hasPrefix("Tcp:") }.map { $0.split(separator: " ") }
        guard tcp.count >= 2, let column = tcp[0].firstIndex(of: "RetransSegs"), column < tcp[1].count else { return nil }
        return Int(tcp[1][column])
    }

    private func value(_ name: String) -> Int? {
        let path = "/sys/class/net/\(interface)/statistics/\(name)"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

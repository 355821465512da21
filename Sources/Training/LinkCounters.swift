import Foundation

/// The kernel's byte counters of one network interface (/sys/class/net/IFACE/statistics):
/// what really crossed the host's link, headers included, to hold the counted bytes to.
/// Inside a network namespace the counters are the namespace's own interface.
struct LinkCounters {
    let interface: String

    /// (sent, received) bytes since the interface came up; nil when unreadable.
    func read() -> (tx: Int, rx: Int)? {
        guard !interface.isEmpty, !interface.contains("/"), let tx = value("tx_bytes"), let rx = value("rx_bytes") else { return nil }
        return (tx, rx)
    }

    private func value(_ name: String) -> Int? {
        let path = "/sys/class/net/\(interface)/statistics/\(name)"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

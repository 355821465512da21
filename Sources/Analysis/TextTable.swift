// Markdown and CSV rendering shared by the report and the scaling curves.
import Foundation

/// A header and rows of already-formatted cells.
struct TextTable {
    var header: [String]
    var rows: [[String]]
    /// Columns to right-align in Markdown (numbers).
    var rightAligned: Set<Int> = []

    /// GitHub-flavoured Markdown table; `|` in cells is escaped.
    func markdown() -> String {
        func line(_ cells: [String]) -> String {
            "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |"
        }
        let rule = "|" + header.indices.map { rightAligned.contains($0) ? "---:" : "---" }.joined(separator: "|") + "|"
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    /// RFC 4180 CSV: fields with a comma, quote or newline are quoted.
    func csv() -> String {
        func field(_ s: String) -> String {
            guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return ([header] + rows).map { $0.map(field).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }
}

/// Number formatting for humans (Markdown) and machines (CSV).
enum Format {
    /// Decimal megabytes with two decimals: 8738968 -> "8.74 MB".
    static func megabytes(_ bytes: Double) -> String {
        fixed(bytes / 1e6, 2) + " MB"
    }

    /// Milliseconds with three decimals.
    static func milliseconds(_ seconds: Double) -> String {
        fixed(seconds * 1e3, 3) + " ms"
    }

    static func percent(_ fraction: Double) -> String {
        fixed(fraction * 100, 1) + "%"
    }

    /// Fixed-point without Foundation's locale: rounds half away from zero.
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        let frac = Int(scaled - Double(whole) * scale)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        if decimals == 0 { return sign + "\(whole)" }
        let digits = String(frac)
        return sign + "\(whole)." + String(repeating: "0", count: decimals - digits.count) + digits
    }

    /// CSV text: integers in full ("8738968"), other values to 12 significant
    /// digits ("0.12", not "0.12000000000000001").
    static func raw(_ value: Double) -> String {
        if value.isFinite && value == value.rounded() && abs(value) < 1e15 { return String(Int(value)) }
        return String(format: "%.12g", value)
    }
}

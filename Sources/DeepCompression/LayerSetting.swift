// Per-layer settings by layer name (`conv1=0.16,fc6=0.91`, `fire2.expand3x3=0.7`): how Deep Compression
// gives each layer its own sparsity or bits (Han et al. prune AlexNet's conv1 16%, fc6 91%).

public struct LayerSetting: Codable, Equatable, Sendable {
    public var prefix: String
    public var value: Double
    public init(prefix: String, value: Double) { self.prefix = prefix; self.value = value }

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// `name=value` pairs, comma-separated, in the order given (the first that names a tensor wins).
    public static func parse(_ text: String, flag: String) throws -> [LayerSetting] {
        try text.split(separator: ",").map { item in
            let kv = item.split(separator: "=", omittingEmptySubsequences: false)
            guard kv.count == 2, !kv[0].isEmpty, let v = Double(kv[1]), v.isFinite else {
                throw ParseError(description: "\(flag) expects name=value pairs, as conv1=0.16,fire2=0.5; got '\(item)'")
            }
            return LayerSetting(prefix: String(kv[0]), value: v)
        }
    }

    /// Whether the setting names this tensor: its whole name or its leading dotted parts
    /// (`conv1` and `fire2.expand3x3` name `conv1.weight` and `fire2.expand3x3.bias`;
    /// `conv1` does not name `conv10.weight`).
    public func matches(_ name: String) -> Bool {
        name == prefix || name.hasPrefix(prefix + ".")
    }

    /// The value of the first setting that names `name`.
    public static func value(for name: String, in settings: [LayerSetting]) -> Double? {
        settings.first { $0.matches(name) }?.value
    }

    /// Refuses a setting that names none of `names`: a typo would otherwise change nothing.
    public static func requireMatches(_ settings: [LayerSetting], names: [String], flag: String) throws {
        guard let u = settings.first(where: { s in !names.contains { s.matches($0) } }) else { return }
        let layers = names.map { String($0.prefix { $0 != "." }) }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        throw ParseError(description: "\(flag) \(u.prefix)=\(u.value): no tensor is named '\(u.prefix)' or '\(u.prefix).*' (the layers: \(layers.joined(separator: ", ")))")
    }
}

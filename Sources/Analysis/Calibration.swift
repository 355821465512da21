// Latency/bandwidth calibration of the alpha-beta model from a ping-pong:
// t(n)/2 = alpha + n beta, fitted by least squares over the measured sizes.
// The timing loop is in Collectives (PingPong.swift); this file only fits, stores
// and renders, so it needs no MPI.
import Basics
import Foundation
import Metrics

/// One message size of a ping-pong: the median round trip over its repetitions.
public struct PingPongPoint: Codable, Equatable, Sendable {
    /// Payload bytes of one message (one way).
    public var bytes: Int
    /// Timed round trips (rank 0 -> rank 1 -> rank 0).
    public var repetitions: Int
    /// Median round-trip seconds over the repetitions (measured).
    public var medianRoundTripSeconds: Double
    /// Fastest round trip (measured).
    public var minRoundTripSeconds: Double

    public init(bytes: Int, repetitions: Int, medianRoundTripSeconds: Double, minRoundTripSeconds: Double) {
        self.bytes = bytes
        self.repetitions = repetitions
        self.medianRoundTripSeconds = medianRoundTripSeconds
        self.minRoundTripSeconds = minRoundTripSeconds
    }

    /// Builds a point from every timed round trip of one size.
    public init(bytes: Int, roundTrips: [Double]) {
        precondition(!roundTrips.isEmpty, "no round trips for \(bytes) bytes")
        self.init(bytes: bytes, repetitions: roundTrips.count,
                  medianRoundTripSeconds: median(roundTrips) ?? 0, minRoundTripSeconds: roundTrips.min()!)
    }

    /// One-way time, t(n)/2 (measured).
    public var oneWaySeconds: Double { medianRoundTripSeconds / 2 }

    enum CodingKeys: String, CodingKey {
        case bytes, repetitions
        case medianRoundTripSeconds = "median_round_trip_seconds"
        case minRoundTripSeconds = "min_round_trip_seconds"
    }
}

/// A fitted alpha-beta model and the points it came from; the JSON file
/// `squeezenet-train calibrate --output` writes and `report --calibration` reads.
public struct Calibration: Codable, Equatable, Sendable {
    /// Latency per message, seconds (fitted intercept).
    public var alpha: Double
    /// Seconds per byte (fitted slope).
    public var beta: Double
    /// The measured points, smallest message first.
    public var points: [PingPongPoint]
    /// Where it was measured: hosts, transport (e.g. Open MPI shared memory on one host).
    public var transport: String
    /// How the line was fitted.
    public var fit: String

    public init(alpha: Double, beta: Double, points: [PingPongPoint], transport: String,
                fit: String = Calibration.fitDescription) {
        self.alpha = alpha
        self.beta = beta
        self.points = points
        self.transport = transport
        self.fit = fit
    }

    public static let fitDescription =
        "least squares of t(n)/2 = alpha + n beta over the median round trips, residuals relative to t(n)/2 "
        + "(each size weighs alike, so latency comes from small messages and bandwidth from large ones)"

    /// Fits `points` and keeps them.
    public init(points: [PingPongPoint], transport: String) throws {
        let line = try Calibration.fitLine(points.map { (Double($0.bytes), $0.oneWaySeconds) })
        self.init(alpha: line.alpha, beta: line.beta, points: points.sorted { $0.bytes < $1.bytes },
                  transport: transport)
    }

    /// The network preset for the cost model.
    public var network: NetworkPreset { .calibrated(alpha: alpha, beta: beta) }

    /// Modelled one-way seconds for `bytes`: alpha + bytes beta.
    public func modelledOneWaySeconds(bytes: Int) -> Double { alpha + Double(bytes) * beta }

    public enum FitError: Error, CustomStringConvertible, Equatable {
        case tooFewSizes(Int)
        case notPositive(String)
        public var description: String {
            switch self {
            case let .tooFewSizes(n): return "need at least 2 distinct message sizes to fit alpha and beta, got \(n)"
            case let .notPositive(what): return "cannot fit: \(what)"
            }
        }
    }

    /// Weighted least squares for y = alpha + x beta with weights 1/y^2 (minimises
    /// the sum of squared relative residuals). Exact for exact data.
    public static func fitLine(_ samples: [(x: Double, y: Double)]) throws -> (alpha: Double, beta: Double) {
        guard Set(samples.map(\.x)).count >= 2 else { throw FitError.tooFewSizes(Set(samples.map(\.x)).count) }
        guard samples.allSatisfy({ $0.y > 0 && $0.y.isFinite }) else { throw FitError.notPositive("a time is not positive") }
        var sw = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
        for s in samples {
            let w = 1 / (s.y * s.y)
            sw += w; sx += w * s.x; sy += w * s.y; sxx += w * s.x * s.x; sxy += w * s.x * s.y
        }
        let det = sw * sxx - sx * sx
        guard det != 0 else { throw FitError.tooFewSizes(1) }
        let beta = (sw * sxy - sx * sy) / det
        let alpha = (sy - beta * sx) / sw
        return (alpha, beta)
    }

    // MARK: JSON

    enum CodingKeys: String, CodingKey { case alpha, beta, points, transport, fit }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    public static func read(_ path: String) throws -> Calibration {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw MetricsError.cannotOpen(path: path, reason: error.localizedDescription)
        }
        do { return try JSONDecoder().decode(Calibration.self, from: data) } catch {
            throw MetricsError.malformedLine(path: path, line: 1, reason: "not a calibration JSON (alpha, beta, points): \(error)")
        }
    }

    // MARK: Rendering

    /// The measured points beside the fitted line, and the fit itself.
    public func markdown() -> String {
        var text = "Ping-pong, measured: \(transport)\n\n"
        let rows = points.map { p -> [String] in
            let model = modelledOneWaySeconds(bytes: p.bytes)
            return [Format.grouped(p.bytes), String(p.repetitions),
                    Format.microseconds(p.medianRoundTripSeconds), Format.microseconds(p.oneWaySeconds),
                    p.oneWaySeconds > 0 ? Format.fixed(Double(p.bytes) / p.oneWaySeconds / 1e6, 1) : "",
                    Format.microseconds(model), Format.signedPercent(p.oneWaySeconds / model - 1)]
        }
        text += TextTable(header: ["bytes", "reps", "round trip (measured, median)", "one way (measured)",
                                   "MB/s (measured)", "one way (modelled)", "error"],
                          rows: rows, rightAligned: Set(0..<7)).markdown()
        text += String(format: "\nFitted (modelled): alpha = %.3f us, beta = %.4e s/byte (%.1f MB/s); ",
                       alpha * 1e6, beta, 1 / beta / 1e6)
        text += fit + ".\n"
        return text
    }
}

extension Format {
    /// Microseconds with two decimals.
    static func microseconds(_ seconds: Double) -> String { fixed(seconds * 1e6, 2) + " us" }

    /// "+12.3%" / "-4.0%".
    static func signedPercent(_ fraction: Double) -> String {
        guard fraction.isFinite else { return "" }
        return (fraction >= 0 ? "+" : "") + percent(fraction)
    }
}

import Analysis
import ArgumentParser
import Foundation
import Metrics

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Compare runs from their metrics.jsonl: bytes, messages and times per model, algorithm and world size.",
        discussion: """
        Every figure is labelled measured (from metrics.jsonl) or modelled (alpha-beta cost model).
        Examples:
          squeezenet-train report runs/sweep/*/                       measured table and AlexNet/SqueezeNet ratios
          squeezenet-train report runs/a runs/b --network 10gbe --csv points.csv
          squeezenet-train report runs/sweep/* --calibration calibration.json --network ib-fdr56 --scaling
        """)

    @Argument(help: "Run folders holding metrics.jsonl, or metrics.jsonl files.") var paths: [String]
    @Option(help: "Write the comparison table as CSV (bytes, seconds) to this file; with a network, the modelled comm seconds and error are appended.")
    var csv: String?
    @Option(help: "Write the AlexNet/SqueezeNet ratios as CSV to this file.") var ratiosCsv: String?
    @Option(help: "Network preset for the cost model (1gbe, 10gbe, 25gbe, ib-fdr56, 100g); repeat for several.")
    var network: [String] = []
    @Option(help: "Calibration JSON from `squeezenet-train calibrate --output` (alpha, beta measured here).")
    var calibration: String?
    @Flag(help: "Print modelled scaling curves (p = 1..1024) for every model and algorithm, measured points and errors beside (networks: the ones given, else 10gbe and ib-fdr56).")
    var scaling = false
    @Option(help: "Write every scaling-curve point as CSV to this file (implies --scaling's computation).")
    var scalingCsv: String?
    @Option(help: "Write gnuplot data files and plots.gp into this folder (run `gnuplot plots.gp` there).")
    var plotDir: String?
    @Option(help: "Single-worker seconds per iteration without communication for a model, as MODEL=SECONDS; overrides the measurement. Repeatable.")
    var computeSeconds: [String] = []

    func run() throws {
        var records: [IterationRecord] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            let folder = exists ? isDirectory.boolValue : !path.hasSuffix(".jsonl")
            let file = folder ? (path as NSString).appendingPathComponent("metrics.jsonl") : path
            do { records += try MetricsReader.read(file) } catch { fail("\(error)") }
        }
        guard !records.isEmpty else { fail("no records in \(paths.joined(separator: ", "))") }

        var networks: [NetworkPreset] = []
        if let path = calibration {
            do { networks.append(try Calibration.read(path).network) } catch { fail("\(error)") }
        }
        for name in network {
            guard let preset = NetworkPreset(name: name) else {
                fail("--network must be one of 1gbe, 10gbe, 25gbe, ib-fdr56, 100g, got '\(name)'")
            }
            networks.append(preset)
        }
        let wantsScaling = scaling || scalingCsv != nil || plotDir != nil
        let modelNetworks = networks
        if wantsScaling && networks.isEmpty { networks = [.tenGigabitEthernet, .infiniBandFDR] }

        var overrides: [String: Double] = [:]
        for item in computeSeconds {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let s = Double(parts[1]), s >= 0 else {
                fail("--compute-seconds takes MODEL=SECONDS, e.g. v1.0=0.25, got '\(item)'")
            }
            overrides[parts[0]] = s
        }

        let analysis = CommunicationAnalysis(records: records, networks: networks, computeOverrides: overrides)
        let checks = CommunicationAnalysis(records: records, networks: modelNetworks, computeOverrides: overrides)
        print("## Measured runs\n")
        print("\(records.count) records from \(paths.count) path(s).\n")
        print(analysis.report.markdown())
        if !modelNetworks.isEmpty {
            print("## Cost model against the measured communication\n")
            print(checks.modelCheckMarkdown(), terminator: "")
        }
        if scaling {
            print("## Scaling curves\n")
            print(analysis.scalingMarkdown(), terminator: "")
        }
        do {
            if let path = csv { try write(modelNetworks.isEmpty ? analysis.report.csv() : checks.csv(), to: path) }
            if let path = ratiosCsv { try write(analysis.report.ratiosCSV(), to: path) }
            if let path = scalingCsv { try write(analysis.scalingCSV(), to: path) }
            if let dir = plotDir {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                for (name, text) in analysis.plotFiles() {
                    try write(text, to: (dir as NSString).appendingPathComponent(name))
                }
            }
        } catch { fail("\(error)") }
    }

    private func write(_ text: String, to path: String) throws {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw ValidationError("cannot write \(path): \(error.localizedDescription)")
        }
    }
}

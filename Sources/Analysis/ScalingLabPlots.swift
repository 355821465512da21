// The scaling lab's plots: data files and gnuplot scripts written here, PNGs drawn by
// Debian's gnuplot (pngcairo). On every picture measured points are marks and modelled
// curves are lines, and the key says which is which.
import Foundation
import Topology

extension ScalingLab {
    /// A plot: its data files and its gnuplot script, ready to run.
    public struct Plot {
        public var name: String
        public var data: [String: String]
        public var script: String
    }

    static let colours: [AllreduceAlgorithm: String] = [.ring: "#1f77b4", .tree: "#2ca02c", .mpi: "#9467bd", .ps: "#d62728"]

    /// Every plot of this lab.
    public func plots() -> [Plot] {
        var out: [Plot] = []
        for s in series {
            out.append(scalingPlot(s, efficiency: false))
            out.append(scalingPlot(s, efficiency: true))
            out.append(computeAgainstCommunication(s))
        }
        for s in Set(codecPoints.map { "\($0.config.rate) \($0.config.workerSpeedup)" }).sorted() {
            let parts = s.split(separator: " ")
            out.append(codecPlot(rate: String(parts[0]), speedup: Double(parts[1])!))
        }
        out.append(bytesPlot())
        for speedup in Set(points.map(\.config.workerSpeedup)).sorted() { out.append(toThousand(speedup: speedup)) }
        return out
    }

    static func header(_ file: String, _ title: String, _ xlabel: String, _ ylabel: String) -> String {
        """
        set terminal pngcairo size 1100,720 font "DejaVu Sans,11"
        set output '\(file).png'
        set label 1 "\(title)" at screen 0.01, screen 0.975 left noenhanced
        set tmargin 5
        set xlabel "\(xlabel)" noenhanced
        set ylabel "\(ylabel)" noenhanced
        set grid
        set key outside right top noenhanced

        """
    }

    func scalingPlot(_ s: (rate: String, speedup: Double, bucketMB: Double), efficiency: Bool) -> Plot {
        let name = (efficiency ? "efficiency-" : "speedup-") + Self.seriesName(s)
        var data: [String: String] = [:], plots: [String] = []
        let maxHosts = points.map(\.config.hosts).max() ?? 16
        let l = link(for: LabPointConfig(rate: s.rate, shapedRate: nil, timeDilation: 1, workerSpeedup: s.speedup, model: "", algorithm: "",
                                         bucketMB: s.bucketMB, hosts: 1, iterations: 1, warmupIterations: 0))
        let bucketBytes = GradientBuckets.bytes(megabytes: s.bucketMB)
        for model in ["v1.0", "alexnet"] where timelines[model] != nil {
            for algorithm in Self.algorithms {
                let measured = points.filter { $0.config.rate == s.rate && $0.config.workerSpeedup == s.speedup && $0.config.bucketMB == s.bucketMB
                    && $0.config.model == model && ($0.config.algorithm == algorithm.rawValue && $0.config.hosts > 1) }
                guard !measured.isEmpty else { continue }
                let key = "\(model)-\(algorithm.rawValue)"
                var lines = "# hosts modelled\n"
                for p in 1...maxHosts {
                    guard let e = modelEfficiency(model: model, algorithm: algorithm, workers: p, alpha: l.alpha, beta: l.beta,
                                                  pairBeta: l.pairBeta, speedup: s.speedup, bucketBytes: bucketBytes) else { continue }
                    lines += "\(p) \(efficiency ? e : e * Double(p))\n"
                }
                var marks = "# hosts measured cpu_bound\n"
                for p in measured.sorted(by: { $0.config.hosts < $1.config.hosts }) {
                    guard let e = p.efficiency else { continue }
                    marks += "\(p.config.hosts) \(efficiency ? e : e * Double(p.config.hosts)) \(p.cpuBound ? 1 : 0)\n"
                }
                data["\(name)-\(key)-model.dat"] = lines
                data["\(name)-\(key)-measured.dat"] = marks
                let colour = Self.colours[algorithm]!, dash = model == "alexnet" ? 2 : 1, mark = model == "alexnet" ? 9 : 7
                plots.append("'\(name)-\(key)-model.dat' using 1:2 with lines lw 2 dt \(dash) lc rgb '\(colour)' title '\(Self.title(model)) \(algorithm.rawValue), modelled'")
                plots.append("'\(name)-\(key)-measured.dat' using 1:($3 == 0 ? $2 : 1/0) with points pt \(mark) ps 1.6 lc rgb '\(colour)' title '\(Self.title(model)) \(algorithm.rawValue), measured'")
                plots.append("'\(name)-\(key)-measured.dat' using 1:($3 == 1 ? $2 : 1/0) with points pt \(mark - 1) ps 1.6 lc rgb '\(colour)' title '\(Self.title(model)) \(algorithm.rawValue), measured, CPU-bound'")
            }
        }
        if !efficiency { plots.append("x with lines lc rgb '#999999' dt 3 title 'linear'") }
        let title = "\(efficiency ? "Efficiency" : "Speed-up") against one worker: weak scaling, 32 images/worker, \(s.rate)"
            + ", worker x\(Format.raw(s.speedup)), " + (s.bucketMB > 0 ? "\(Format.raw(s.bucketMB)) MB buckets" : "no buckets")
            + "\\nmarks: measured (\(Self.measuredLabel)); lines: modelled"
        var script = Self.header(name, title, "hosts (one rank each)", efficiency ? "efficiency" : "speed-up")
        script += "set logscale x 2\nset xrange [1:\(maxHosts)]\n" + (efficiency ? "set yrange [0:1.05]\n" : "set logscale y 2\nset yrange [0.0625:\(maxHosts * 2)]\n")
        script += "plot " + plots.joined(separator: ", \\\n     ") + "\n"
        return Plot(name: name, data: data, script: script)
    }

    /// Efficiency with the codec against float32's ring (25 MB buckets), both models: measured
    /// points on modelled lines.
    func codecPlot(rate: String, speedup: Double) -> Plot {
        let name = "codec-efficiency-\(rate)-f\(Format.raw(speedup))"
        var data: [String: String] = [:], plots: [String] = []
        let maxHosts = points.map(\.config.hosts).max() ?? 16
        let l = link(for: LabPointConfig(rate: rate, shapedRate: nil, timeDilation: 1, workerSpeedup: speedup, model: "", algorithm: "",
                                         bucketMB: 25, hosts: 1, iterations: 1, warmupIterations: 0))
        let bucketBytes = GradientBuckets.bytes(megabytes: 25)
        let codecs = Set(codecPoints.compactMap(\.config.codec)).sorted()
        for model in ["v1.0", "alexnet"] where timelines[model] != nil {
            for codec in [nil] + codecs.map(Optional.some) {
                let measured = (codec == nil ? points : codecPoints).filter { $0.config.rate == rate && $0.config.workerSpeedup == speedup
                    && $0.config.bucketMB == 25 && $0.config.model == model && $0.config.algorithm == "ring" && $0.config.hosts > 1 && $0.config.codec == codec }
                guard !measured.isEmpty else { continue }
                let key = "\(model)-\(codec.map { $0.replacingOccurrences(of: ":", with: "") } ?? "float32")"
                var lines = "# hosts modelled\n"
                for p in 1...maxHosts {
                    let e = codec.map { codecModelEfficiency(model: model, codec: $0, algorithm: .ring, workers: p, alpha: l.alpha, beta: l.beta,
                                                             pairBeta: l.pairBeta, speedup: speedup, bucketBytes: bucketBytes) }
                        ?? modelEfficiency(model: model, algorithm: .ring, workers: p, alpha: l.alpha, beta: l.beta, pairBeta: l.pairBeta,
                                           speedup: speedup, bucketBytes: bucketBytes)
                    if let e { lines += "\(p) \(e)\n" }
                }
                var marks = "# hosts measured cpu_bound\n"
                for p in measured.sorted(by: { $0.config.hosts < $1.config.hosts }) {
                    if let e = p.efficiency { marks += "\(p.config.hosts) \(e) \(p.cpuBound ? 1 : 0)\n" }
                }
                data["\(name)-\(key)-model.dat"] = lines
                data["\(name)-\(key)-measured.dat"] = marks
                let colour = codec == nil ? "#1f77b4" : "#ff7f0e", dash = model == "alexnet" ? 2 : 1, mark = model == "alexnet" ? 9 : 7
                let label = "\(Self.title(model)) ring \(codec ?? "float32")"
                plots.append("'\(name)-\(key)-model.dat' using 1:2 with lines lw 2 dt \(dash) lc rgb '\(colour)' title '\(label), modelled'")
                plots.append("'\(name)-\(key)-measured.dat' using 1:($3 == 0 ? $2 : 1/0) with points pt \(mark) ps 1.6 lc rgb '\(colour)' title '\(label), measured'")
                plots.append("'\(name)-\(key)-measured.dat' using 1:($3 == 1 ? $2 : 1/0) with points pt \(mark - 1) ps 1.6 lc rgb '\(colour)' title '\(label), measured, CPU-bound'")
            }
        }
        let title = "Efficiency, \(codecs.joined(separator: ", ")) against float32: ring, 25 MB buckets, \(rate), worker x\(Format.raw(speedup))"
            + "\\nmarks: measured (exchange measured; compute and the codec's arithmetic replayed from a measured single-worker timeline); lines: modelled"
        var script = Self.header(name, title, "hosts (one rank each)", "efficiency")
        script += "set logscale x 2\nset xrange [1:\(maxHosts)]\nset yrange [0:1.05]\n"
        script += "plot " + plots.joined(separator: ", \\\n     ") + "\n"
        return Plot(name: name, data: data, script: script)
    }

    func computeAgainstCommunication(_ s: (rate: String, speedup: Double, bucketMB: Double)) -> Plot {
        let name = "compute-vs-comm-" + Self.seriesName(s)
        var text = "# slot hosts model compute exposed total label\n"
        let hosts = Set(points.map(\.config.hosts)).sorted()
        for (i, h) in hosts.enumerated() {
            for (j, model) in ["v1.0", "alexnet"].enumerated() {
                guard let p = points.first(where: { $0.config.rate == s.rate && $0.config.workerSpeedup == s.speedup && $0.config.bucketMB == s.bucketMB
                    && $0.config.model == model && $0.config.hosts == h && ($0.config.algorithm == "ring") }) else { continue }
                let compute = p.iterationSeconds - p.exposedSeconds
                text += "\(Double(i) + (j == 0 ? -0.18 : 0.18)) \(h) \(model) \(compute * 1e3) \(p.exposedSeconds * 1e3) \(p.iterationSeconds * 1e3)\n"
            }
        }
        let title = "Compute against exposed communication per iteration, ring, \(s.rate), worker x\(Format.raw(s.speedup)), "
            + (s.bucketMB > 0 ? "\(Format.raw(s.bucketMB)) MB buckets" : "no buckets")
            + "\\nmeasured (\(Self.measuredLabel)); left bar of each pair SqueezeNet v1.0, right bar AlexNet"
        var script = Self.header(name, title, "hosts", "emulated milliseconds per iteration")
        script += "set style fill solid 0.8 border -1\nset boxwidth 0.34\nset yrange [0:*]\n"
        script += "set xtics (" + hosts.enumerated().map { "\"\($0.element)\" \($0.offset)" }.joined(separator: ", ") + ")\n"
        script += "set xrange [-0.6:\(Double(hosts.count) - 0.4)]\n"
        script += "plot '\(name).dat' using 1:6 with boxes lc rgb '#d62728' title 'exposed communication (measured)', \\\n"
        script += "     '\(name).dat' using 1:4 with boxes lc rgb '#1f77b4' title 'compute, replayed (measured)'\n"
        return Plot(name: name, data: ["\(name).dat": text], script: script)
    }

    func bytesPlot() -> Plot {
        let name = "bytes-per-rank"
        var data: [String: String] = [:], plots: [String] = []
        let maxHosts = points.map(\.config.hosts).max() ?? 16
        for model in ["v1.0", "alexnet"] {
            guard let t = timelines[model] else { continue }
            for algorithm in Self.algorithms {
                let key = "\(model)-\(algorithm.rawValue)"
                var lines = "# hosts mean-bytes-per-rank (formula)\n"
                for p in 2...max(2, maxHosts) {
                    lines += "\(p) \(algorithm.totalBytesSent(ranks: p, gradientBytes: t.parameters * 4) / Double(p) / 1e6)\n"
                }
                var marks = "# hosts measured\n"
                for p in points.filter({ $0.config.model == model && $0.config.algorithm == algorithm.rawValue && $0.config.hosts > 1
                    && $0.config.bucketMB == 0 && $0.config.rate == "1gbit" && $0.config.workerSpeedup == 1 }).sorted(by: { $0.config.hosts < $1.config.hosts }) {
                    marks += "\(p.config.hosts) \(p.bytesSentPerRank / 1e6) \(p.linkTxBytesPerHost.isEmpty ? 0 : p.linkTxBytesPerHost.reduce(0, +) / Double(p.linkTxBytesPerHost.count) / 1e6)\n"
                }
                data["\(name)-\(key)-model.dat"] = lines
                data["\(name)-\(key)-measured.dat"] = marks
                let colour = Self.colours[algorithm]!, dash = model == "alexnet" ? 2 : 1, mark = model == "alexnet" ? 9 : 7
                let what = algorithm.bytesAreCounted ? "counted" : "modelled: not observable"
                plots.append("'\(name)-\(key)-model.dat' using 1:2 with lines lw 2 dt \(dash) lc rgb '\(colour)' title '\(Self.title(model)) \(algorithm.rawValue), formula'")
                plots.append("'\(name)-\(key)-measured.dat' using 1:2 with points pt \(mark) ps 1.6 lc rgb '\(colour)' title '\(Self.title(model)) \(algorithm.rawValue), \(what)'")
                plots.append("'\(name)-\(key)-measured.dat' using 1:3 with points pt 2 ps 1.4 lc rgb '\(colour)' title '\(Self.title(model)) \(algorithm.rawValue), on the link (kernel counters)'")
            }
        }
        let title = "Bytes each rank sends per iteration (mean over ranks), one exchange after backward, 1 Gbit/s\\nmarks: measured per rank (counted at send) and per host link (interface counters); lines: the formulas"
        var script = Self.header(name, title, "hosts (one rank each)", "MB sent per rank per iteration")
        script += "set logscale x 2\nset logscale y 10\nset xrange [2:\(max(2, maxHosts))]\n"
        script += "plot " + plots.joined(separator: ", \\\n     ") + "\n"
        return Plot(name: name, data: data, script: script)
    }

    func toThousand(speedup: Double) -> Plot {
        let name = "efficiency-to-1024-f\(Format.raw(speedup))"
        var data: [String: String] = [:], plots: [String] = []
        let workers = (0...10).map { 1 << $0 }
        let links: [(String, Double, Double, String)] = Self.presetLinks.map { ($0.name, $0.alpha, $0.beta, "preset") }
            + ["1gbit", "10gbit"].map { rate in
                let l = link(for: LabPointConfig(rate: rate, shapedRate: nil, timeDilation: 1, workerSpeedup: speedup, model: "", algorithm: "",
                                                 bucketMB: 25, hosts: 1, iterations: 1, warmupIterations: 0))
                return (rate + "-calibrated", l.alpha, l.beta, "calibrated")
            }
        let palette = ["#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#000000", "#d62728"]
        for model in ["v1.0", "alexnet"] where timelines[model] != nil {
            for (i, l) in links.enumerated() {
                var text = "# workers efficiency (modelled)\n"
                for p in workers {
                    if let e = modelEfficiency(model: model, algorithm: .ring, workers: p, alpha: l.1, beta: l.2, speedup: speedup, bucketBytes: 25 << 20) {
                        text += "\(p) \(e)\n"
                    }
                }
                let file = "\(name)-\(model)-\(l.0).dat"
                data[file] = text
                plots.append("'\(file)' using 1:2 with lines lw 2 dt \(model == "alexnet" ? 2 : 1) lc rgb '\(palette[i % palette.count])' title '\(Self.title(model)), \(l.0), modelled'")
            }
            for rate in ["1gbit", "10gbit"] {
                let measured = points.filter { $0.config.model == model && $0.config.algorithm == "ring" && $0.config.rate == rate
                    && $0.config.workerSpeedup == speedup && $0.config.bucketMB == 25 && $0.config.hosts > 1 }
                guard !measured.isEmpty else { continue }
                let file = "\(name)-\(model)-\(rate)-measured.dat"
                data[file] = "# hosts efficiency cpu_bound (measured)\n" + measured.sorted { $0.config.hosts < $1.config.hosts }
                    .compactMap { p in p.efficiency.map { "\(p.config.hosts) \($0) \(p.cpuBound ? 1 : 0)\n" } }.joined()
                let colour = rate == "1gbit" ? palette[5] : palette[6]
                plots.append("'\(file)' using 1:2 with points pt \(model == "alexnet" ? 9 : 7) ps 1.8 lc rgb '\(colour)' title '\(Self.title(model)), \(rate), measured'")
            }
        }
        let title = "Ring with 25 MB buckets to 1024 workers, worker x\(Format.raw(speedup)): lines modelled (presets, and the lab's calibrated links),"
            + "\\nmarks measured on the emulated cluster (\(Self.measuredLabel))"
        var script = Self.header(name, title, "workers", "efficiency")
        script += "set logscale x 2\nset xrange [1:1024]\nset yrange [0:1.05]\n"
        script += "plot " + plots.joined(separator: ", \\\n     ") + "\n"
        return Plot(name: name, data: data, script: script)
    }

    /// Writes every plot's data and script into `dir` and runs gnuplot on each; returns
    /// the PNG paths. Throws with gnuplot's message when it fails or is missing.
    public func drawPlots(into dir: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var written: [String] = []
        for plot in plots() {
            for (file, text) in plot.data { try Data(text.utf8).write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent(file))) }
            let script = (dir as NSString).appendingPathComponent(plot.name + ".gp")
            try Data(plot.script.utf8).write(to: URL(fileURLWithPath: script))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["gnuplot", plot.name + ".gp"]
            process.currentDirectoryURL = URL(fileURLWithPath: dir)
            let errors = Pipe()
            process.standardError = errors
            do { try process.run() } catch {
                throw PlotError.plot("cannot run gnuplot (launch/install-deps installs gnuplot-nox): \(error)")
            }
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            if process.terminationStatus != 0 {
                throw PlotError.plot("gnuplot failed on \(script): \(message.split(separator: "\n").first ?? "")")
            }
            written.append((dir as NSString).appendingPathComponent(plot.name + ".png"))
        }
        return written
    }
}

enum PlotError: Error, CustomStringConvertible {
    case plot(String)
    var description: String { switch self { case .plot(let s): return s } }
}

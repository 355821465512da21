import ArgumentParser
import Foundation
import Training

struct CheckReference: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-reference",
        abstract: "Compare forward, gradients and two SGD steps with a reference folder (manifest.json + raw tensors).")

    @Argument(help: "Reference folder (manifest.json and raw tensors dumped from PyTorch, docs/formats.md).") var directory: String
    @Flag(help: "Print only failures and the summary.") var quiet = false

    func run() throws {
        let report: ReferenceCheck.Report
        do { report = try ReferenceCheck.run(directory: directory) } catch { fail("\(error)") }
        print("reference: \(report.description)")
        print("tensor".padding(toLength: 36, withPad: " ", startingAt: 0) + " role                     max|diff|    max|ref|     rel        tol      ok")
        for r in report.results where !quiet || !r.passed {
            print(r.name.padding(toLength: 36, withPad: " ", startingAt: 0) + " "
                  + r.role.padding(toLength: 24, withPad: " ", startingAt: 0)
                  + String(format: " %.3e  %.3e  %.3e  %.0e  %@", r.maxAbsDiff, r.maxAbsRef, r.relative, r.tolerance, r.passed ? "yes" : "NO"))
        }
        let worst = report.results.max { $0.relative < $1.relative }
        print("\(report.results.count) tensors, \(report.failures.count) out of tolerance; worst \(worst?.name ?? "-") at \(worst.map { String(format: "%.2e", $0.relative) } ?? "-")")
        if !report.passed { throw ExitCode(1) }
    }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Largest absolute and relative difference between two weight files written by training.")

    @Argument(help: "First weight file (weights.bin).") var first: String
    @Argument(help: "Second weight file.") var second: String
    @Option(help: "Exit non-zero when max|a-b| / max|b| exceeds this.") var tolerance: Double?

    func run() throws {
        let a: WeightFile, b: WeightFile
        do { a = try WeightFile.read(from: first); b = try WeightFile.read(from: second) } catch { fail("\(error)") }
        guard a.header.count == b.header.count, a.header.tensors == b.header.tensors else {
            fail("\(first) (\(a.header.model), \(a.header.count) parameters) and \(second) (\(b.header.model), \(b.header.count)) hold different models")
        }
        var maxAbs = 0.0, maxRef = 0.0, index = 0, differing = 0
        for i in 0..<a.values.count {
            let d = abs(Double(a.values[i]) - Double(b.values[i]))
            if d > maxAbs { maxAbs = d; index = i }
            if a.values[i].bitPattern != b.values[i].bitPattern { differing += 1 }
            maxRef = max(maxRef, abs(Double(b.values[i])))
        }
        let relative = maxRef > 0 ? maxAbs / maxRef : maxAbs
        print(String(format: "%d parameters, %d differ bitwise; max|a-b| %.6e at index %d; max|a-b|/max|b| %.6e",
                     a.values.count, differing, maxAbs, index, relative))
        if let t = tolerance, relative > t { throw ExitCode(1) }
    }
}

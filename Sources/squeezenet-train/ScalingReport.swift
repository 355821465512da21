import Analysis
import ArgumentParser
import Foundation

/// The scaling lab's report from a lab folder (launch/scaling-lab runs it at the end).
struct ScalingReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scaling-report",
        abstract: "Tables and plots of a scaling-lab folder: measured points against the step model.",
        discussion: """
        Reads DIR/timelines, DIR/calibration, DIR/points and DIR/validation as launch/scaling-lab
        writes them, and writes DIR/results.md, DIR/results.json and DIR/plots/*.png (gnuplot).
        Measured figures: exchange measured, compute replayed from a measured single-worker
        timeline, times divided by the time dilation k. docs/scaling.md explains the method.
        """)

    @Argument(help: "The lab folder.") var directory: String
    @Flag(help: "Skip the plots (no gnuplot needed).") var noPlots = false

    func run() throws {
        let lab: ScalingLab
        do { lab = try ScalingLab.load(directory) } catch { fail("\(error)") }
        let markdown = lab.markdown()
        let dir = directory as NSString
        do {
            try Data(markdown.utf8).write(to: URL(fileURLWithPath: dir.appendingPathComponent("results.md")), options: .atomic)
            try lab.json().write(to: URL(fileURLWithPath: dir.appendingPathComponent("results.json")), options: .atomic)
            if !noPlots {
                let pngs = try lab.drawPlots(into: dir.appendingPathComponent("plots"))
                print("wrote \(pngs.count) plots in \(dir.appendingPathComponent("plots"))")
            }
        } catch { fail("\(error)") }
        print("wrote \(dir.appendingPathComponent("results.md")) and results.json (\(lab.points.count) points)")
    }
}

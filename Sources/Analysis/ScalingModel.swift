// Weak-scaling prediction from one measured iteration time and the alpha-beta
// communication model: each worker keeps its batch b, so the global batch is p b.
import Foundation
import Topology

/// One point of a predicted scaling curve.
public struct ScalingPoint: Equatable, Sendable {
    /// Workers p.
    public var workers: Int
    /// Modelled allreduce seconds per iteration (critical path).
    public var commSeconds: Double
    /// compute + comm, seconds per iteration.
    public var iterationSeconds: Double
    /// Images per second over all workers: p b / iterationSeconds.
    public var throughput: Double
    /// throughput(p) / throughput(1).
    public var speedup: Double
    /// speedup / p.
    public var efficiency: Double
}

/// time(p) = compute + comm(p); throughput(p) = p b / time(p);
/// speedup(p) = throughput(p) / throughput(1); efficiency = speedup / p.
/// Communication is not overlapped with compute (the pessimistic case, which is
/// what an unbucketed allreduce after backward does).
public struct ScalingModel: Sendable {
    /// Measured single-worker seconds per iteration, excluding communication
    /// (forward + backward + update + data).
    public var computeSeconds: Double
    /// Images per worker per iteration (b).
    public var perWorkerBatch: Int
    /// N, bytes of one gradient exchange.
    public var gradientBytes: Int
    public var algorithm: AllreduceAlgorithm
    public var network: NetworkPreset

    /// p = 1, 2, 4, ..., 1024.
    public static let defaultWorkerCounts: [Int] = (0...10).map { 1 << $0 }

    public init(computeSeconds: Double, perWorkerBatch: Int, gradientBytes: Int,
                algorithm: AllreduceAlgorithm, network: NetworkPreset) {
        self.computeSeconds = computeSeconds
        self.perWorkerBatch = perWorkerBatch
        self.gradientBytes = gradientBytes
        self.algorithm = algorithm
        self.network = network
    }

    /// Modelled communication seconds at `p` workers (0 at p = 1).
    public func commSeconds(workers p: Int) -> Double {
        CommunicationModel.criticalPathSeconds(algorithm, worldSize: p, gradientBytes: gradientBytes, network: network)
    }

    /// Images per second at `p` workers.
    public func throughput(workers p: Int) -> Double {
        Double(p * perWorkerBatch) / (computeSeconds + commSeconds(workers: p))
    }

    public func point(workers p: Int) -> ScalingPoint {
        let comm = commSeconds(workers: p)
        let time = computeSeconds + comm
        let throughput = Double(p * perWorkerBatch) / time
        let speedup = throughput / self.throughput(workers: 1)
        return ScalingPoint(workers: p, commSeconds: comm, iterationSeconds: time,
                            throughput: throughput, speedup: speedup, efficiency: speedup / Double(p))
    }

    public func curve(workers: [Int] = ScalingModel.defaultWorkerCounts) -> [ScalingPoint] {
        workers.map(point(workers:))
    }

    /// The curve as a Markdown table with a caption stating every assumption.
    public func markdown(workers: [Int] = ScalingModel.defaultWorkerCounts) -> String {
        var text = "Weak scaling, modelled: \(algorithm.rawValue) allreduce of \(Format.megabytes(Double(gradientBytes)))"
        text += ", compute \(Format.milliseconds(computeSeconds)) per iteration at \(perWorkerBatch) images per worker"
        text += "; network \(network.assumption)"
        if algorithm == .mpi { text += "; MPI " + AllreduceAlgorithm.mpiAssumption }
        text += ".\n\n"
        return text + table(workers: workers, human: true).markdown()
    }

    /// The curve as CSV (seconds, images per second, plain numbers).
    public func csv(workers: [Int] = ScalingModel.defaultWorkerCounts) -> String {
        table(workers: workers, human: false).csv()
    }

    private func table(workers: [Int], human: Bool) -> TextTable {
        let header = human
            ? ["workers", "comm", "iteration", "images/s", "speedup", "efficiency"]
            : ["workers", "comm_seconds", "iteration_seconds", "images_per_second", "speedup", "efficiency"]
        let rows = curve(workers: workers).map { pt -> [String] in
            human
                ? [String(pt.workers), Format.milliseconds(pt.commSeconds), Format.milliseconds(pt.iterationSeconds),
                   Format.fixed(pt.throughput, 1), Format.fixed(pt.speedup, 2), Format.percent(pt.efficiency)]
                : [String(pt.workers), Format.raw(pt.commSeconds), Format.raw(pt.iterationSeconds),
                   Format.raw(pt.throughput), Format.raw(pt.speedup), Format.raw(pt.efficiency)]
        }
        return TextTable(header: header, rows: rows, rightAligned: Set(0..<header.count))
    }
}

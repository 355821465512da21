import Foundation
import Metrics
#if canImport(Glibc)
import Glibc
#endif

/// The output folder of one run, held by rank 0 for the run's life: a lock keeps a second
/// run out (flock on `.lock`, released by the kernel however the process ends), and a
/// folder holding another run's files is refused unless the run resumes it or is told to
/// overwrite, so a folder always reads as one run: its metrics, its checkpoints, its weights.
final class OutputFolder {
    static let lockName = ".lock", metricsName = "metrics.jsonl", weightsName = "weights.bin"
    let path: String
    private let lockDescriptor: Int32

    /// Creates the folder if needed and takes its lock; refuses a folder another run holds.
    init(_ path: String) throws {
        self.path = path
        func bad(_ s: String) -> TrainingError { .badInput("\(path): \(s)") }
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw bad("cannot write the output folder (\(systemReason(error)))")
        }
        let lockPath = (path as NSString).appendingPathComponent(Self.lockName)
        let fd = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw bad("cannot write the output folder (\(String(cString: strerror(errno))))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: lockPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            throw bad("in use by another run\(holder.isEmpty ? "" : " (\(holder))"); wait for it to end or choose another --output")
        }
        let note = "pid \(getpid()) on \(ProcessInfo.processInfo.hostName)\n"
        _ = ftruncate(fd, 0)
        _ = note.withCString { Glibc.write(fd, $0, strlen($0)) }
        lockDescriptor = fd
    }

    deinit { close(lockDescriptor) }

    /// The files a run writes here (metrics, weights, checkpoints), by name.
    func runFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter {
            $0 == Self.metricsName || $0 == Self.weightsName || ($0.hasPrefix(Checkpoints.prefix) && $0.hasSuffix(Checkpoints.suffix))
        }.sorted()
    }

    /// Makes the folder this run's and opens its metrics file. A new run (`resumeIteration`
    /// nil) refuses another run's files unless `overwrite`, which deletes them; a resumed run
    /// keeps the metrics of iterations before its checkpoint and deletes what lies past it
    /// (records and checkpoints of steps it will take again), so the folder reads as one
    /// uninterrupted run.
    func prepare(resumeIteration: Int?, overwrite: Bool) throws -> MetricsWriter {
        let metricsPath = file(Self.metricsName)
        removeInterruptedWrites()
        if let k = resumeIteration {
            for c in Checkpoints.list(path) where c.iteration > k { try remove(c.path) }
            if FileManager.default.fileExists(atPath: file(Self.weightsName)) { try remove(file(Self.weightsName)) }
            guard FileManager.default.fileExists(atPath: metricsPath) else { return try open(metricsPath, truncate: true) }
            let kept = try MetricsReader.readWrittenLines(metricsPath).records.filter { $0.iteration < k }
            var text = ""
            for r in kept { text += try MetricsWriter.line(for: r) + "\n" }
            try atomicWrite(Data(text.utf8), to: metricsPath)
            return try open(metricsPath, truncate: false)
        }
        let existing = runFiles()
        if !existing.isEmpty {
            guard overwrite else {
                let shown = existing.prefix(3).joined(separator: ", ") + (existing.count > 3 ? ", ..." : "")
                throw TrainingError.badInput("\(path): holds another run's files (\(shown)); continue it with --resume latest, replace it with --overwrite, or choose another --output")
            }
            for name in existing { try remove(file(name)) }
        }
        return try open(metricsPath, truncate: true)
    }

    private func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Temporary files of writes that a crash interrupted: never complete, never needed.
    private func removeInterruptedWrites() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where name.hasPrefix(".") && name.contains(".tmp-") {
            try? FileManager.default.removeItem(atPath: file(name))
        }
    }

    private func remove(_ file: String) throws {
        do { try FileManager.default.removeItem(atPath: file) } catch {
            throw TrainingError.badInput("\(file): cannot remove (\(systemReason(error)))")
        }
    }

    private func open(_ metricsPath: String, truncate: Bool) throws -> MetricsWriter {
        do { return try MetricsWriter(path: metricsPath, truncate: truncate) } catch {
            throw TrainingError.badInput("\(path): cannot write the output folder (\(error))")
        }
    }
}

// One line of `<output>/metrics.jsonl`: what one rank did in one iteration.
// The schema (every field, its unit, measured or modelled) is in docs/metrics.md.
import Foundation

/// One rank's account of one training iteration, serialised as one JSON object
/// per line (JSON Lines) with snake_case keys.
///
/// Invariants the writer relies on and the report assumes:
/// - every rank of a run writes one record per iteration, with the same
///   `iteration`, `worldSize`, `model`, `parameters`, `gradientBytes` and `algorithm`;
/// - times are wall-clock seconds measured on that rank;
/// - `bytesSent`/`bytesReceived`/`messagesSent` cover the gradient exchange of this
///   iteration only. When `bytesCounted` is false (native `MPI_Allreduce`, whose
///   traffic we cannot observe) they hold the figure of `CommunicationModel`.
public struct IterationRecord: Codable, Equatable, Sendable {
    /// This process's rank in `0..<worldSize`.
    public var rank: Int
    /// Zero-based training iteration (continues across a resume).
    public var iteration: Int
    /// Number of data-parallel workers (MPI ranks).
    public var worldSize: Int
    /// Model name as given on the command line, e.g. "v1.0", "v1.1", "alexnet".
    public var model: String
    /// Trainable parameters (weights + biases).
    public var parameters: Int
    /// Bytes of gradient exchanged per allreduce (4 x parameters for fp32).
    public var gradientBytes: Int
    /// Allreduce algorithm: "tree", "ring", "ps", "mpi" (or "none" with one rank).
    public var algorithm: String
    /// Bytes this rank sent during the gradient exchange.
    public var bytesSent: Int
    /// Bytes this rank received during the gradient exchange.
    public var bytesReceived: Int
    /// Point-to-point messages this rank sent during the gradient exchange.
    public var messagesSent: Int
    /// True when the byte and message fields were counted at send/receive;
    /// false when they are modelled (native MPI_Allreduce).
    public var bytesCounted: Bool
    /// Seconds spent in gradient communication (including waiting for peers).
    public var commSeconds: Double
    /// Seconds of forward + backward.
    public var computeSeconds: Double
    /// Seconds of the optimizer step.
    public var updateSeconds: Double
    /// Seconds spent producing the batch (loading, augmenting, copying).
    public var dataSeconds: Double
    /// Wall-clock seconds of the whole iteration on this rank.
    public var iterationSeconds: Double
    /// Images processed by this rank this iteration.
    public var batchSize: Int
    /// Images processed by all ranks together this iteration.
    public var globalBatchSize: Int
    /// Mean loss over this rank's local batch (nil if not computed; NaN allowed).
    public var loss: Double?
    /// Learning rate used for this iteration's update.
    public var learningRate: Double
    /// Communication seconds not hidden behind backward (bucketed overlap only).
    public var exposedCommSeconds: Double?
    /// L2 norm of the averaged gradient before any clipping (the same on every rank).
    public var gradientNorm: Double?
    /// Set when forward, backward and update were not computed but replayed as timed
    /// waits from a measured single-worker timeline (the scaling lab); the exchange is real.
    public var replay: Replay?
    /// The host's network interface counters (`--link-counters`: the kernel's bytes sent and
    /// received since the interface came up, headers included) at the start of this iteration;
    /// nil when not read. The difference to the next iteration's is what crossed the link in
    /// this one, whatever was still draining from socket buffers when the exchange returned.
    public var linkTxCounter: Int?
    public var linkRxCounter: Int?
    /// TCP segments retransmitted in the host's network namespace since boot (RetransSegs of
    /// /proc/net/snmp), at the start of this iteration: the link carried those twice.
    public var linkRetransmitCounter: Int?
    /// When the iteration started, Unix seconds (CLOCK_REALTIME): for lining the records
    /// up with samplers outside the process (the scaling lab's /proc/stat). Nil in old files.
    public var startedAt: Double?
    /// The gradient codec (`--compression`: fp16, int8, topk:0.001, ...); nil for float32.
    public var codec: String?
    /// With a codec: the bytes this rank would have sent in float32 through the same
    /// algorithm and buckets (the formula), so bytes_uncompressed / bytes_sent is the
    /// compression ratio. Nil without a codec (it equals bytes_sent).
    public var bytesUncompressed: Int?
    /// `--skip-bad-images`: images this rank replaced so far because they could not be read
    /// (with the files its lists left out at startup); nil without the flag.
    public var badImages: Int?
    /// With a codec (or a masked exchange): seconds of this iteration's exchange spent
    /// encoding (error feedback in, quantising, selecting, packing, factoring) and decoding
    /// (unpacking, adding what arrived), measured on the thread that ran the codec; they
    /// are part of `comm_seconds`. Nil without a codec.
    public var codecEncodeSeconds: Double?
    public var codecDecodeSeconds: Double?

    /// How replayed compute was scaled: the timeline's durations times
    /// `timeDilation / workerSpeedup`. Times in this record are as measured (dilated);
    /// the emulated figure is a time divided by `timeDilation`.
    public struct Replay: Codable, Equatable, Sendable {
        /// A worker this many times faster than the one the timeline was measured on.
        public var workerSpeedup: Double
        /// Gupta et al.'s time dilation k: links shaped at R/k stand for rate R.
        public var timeDilation: Double
        /// A warm-up iteration (--replay-warmup): the start of each bucket was exchanged
        /// and the compute was not waited, so its times and bytes are not a step's. Absent otherwise.
        public var warmup: Bool?
        public init(workerSpeedup: Double, timeDilation: Double, warmup: Bool? = nil) {
            self.workerSpeedup = workerSpeedup; self.timeDilation = timeDilation; self.warmup = warmup
        }
        enum CodingKeys: String, CodingKey {
            case workerSpeedup = "worker_speedup"
            case timeDilation = "time_dilation"
            case warmup
        }
    }

    public init(rank: Int, iteration: Int, worldSize: Int, model: String,
                parameters: Int, gradientBytes: Int, algorithm: String,
                bytesSent: Int, bytesReceived: Int, messagesSent: Int, bytesCounted: Bool,
                commSeconds: Double, computeSeconds: Double, updateSeconds: Double,
                dataSeconds: Double, iterationSeconds: Double,
                batchSize: Int, globalBatchSize: Int, loss: Double? = nil,
                learningRate: Double, exposedCommSeconds: Double? = nil, gradientNorm: Double? = nil,
                replay: Replay? = nil, linkTxCounter: Int? = nil, linkRxCounter: Int? = nil,
                linkRetransmitCounter: Int? = nil, startedAt: Double? = nil, codec: String? = nil, bytesUncompressed: Int? = nil, badImages: Int? = nil,
                codecEncodeSeconds: Double? = nil, codecDecodeSeconds: Double? = nil) {
        self.rank = rank
        self.iteration = iteration
        self.worldSize = worldSize
        self.model = model
        self.parameters = parameters
        self.gradientBytes = gradientBytes
        self.algorithm = algorithm
        self.bytesSent = bytesSent
        self.bytesReceived = bytesReceived
        self.messagesSent = messagesSent
        self.bytesCounted = bytesCounted
        self.commSeconds = commSeconds
        self.computeSeconds = computeSeconds
        self.updateSeconds = updateSeconds
        self.dataSeconds = dataSeconds
        self.iterationSeconds = iterationSeconds
        self.batchSize = batchSize
        self.globalBatchSize = globalBatchSize
        self.loss = loss
        self.learningRate = learningRate
        self.exposedCommSeconds = exposedCommSeconds
        self.gradientNorm = gradientNorm
        self.replay = replay
        self.linkTxCounter = linkTxCounter
        self.linkRxCounter = linkRxCounter
        self.linkRetransmitCounter = linkRetransmitCounter
        self.startedAt = startedAt
        self.codec = codec
        self.bytesUncompressed = bytesUncompressed
        self.badImages = badImages
        self.codecEncodeSeconds = codecEncodeSeconds
        self.codecDecodeSeconds = codecDecodeSeconds
    }

    enum CodingKeys: String, CodingKey {
        case rank, iteration, model, parameters, algorithm, loss, replay
        case worldSize = "world_size"
        case gradientBytes = "gradient_bytes"
        case bytesSent = "bytes_sent"
        case bytesReceived = "bytes_received"
        case messagesSent = "messages_sent"
        case bytesCounted = "bytes_counted"
        case commSeconds = "comm_seconds"
        case computeSeconds = "compute_seconds"
        case updateSeconds = "update_seconds"
        case dataSeconds = "data_seconds"
        case iterationSeconds = "iteration_seconds"
        case batchSize = "batch_size"
        case globalBatchSize = "global_batch_size"
        case learningRate = "learning_rate"
        case exposedCommSeconds = "exposed_comm_seconds"
        case gradientNorm = "gradient_norm"
        case linkTxCounter = "link_tx_counter"
        case linkRxCounter = "link_rx_counter"
        case linkRetransmitCounter = "link_tcp_retransmit_counter"
        case startedAt = "started_at"
        case codec
        case bytesUncompressed = "bytes_uncompressed"
        case badImages = "bad_images"
        case codecEncodeSeconds = "codec_encode_seconds"
        case codecDecodeSeconds = "codec_decode_seconds"
    }
}

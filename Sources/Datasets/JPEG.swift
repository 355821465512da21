// JPEG through libjpeg-turbo's TurboJPEG API: decoding (baseline and progressive;
// grey, YCbCr and CMYK/YCCK, always to RGB) with DCT-domain scaling, and encoding
// for `make-image-folder` and the tests.
//
// TurboJPEG handles are not thread-safe, so each decode thread owns a `JPEGDecoder`
// (its handle and its pixel buffer, reused from image to image).
import Basics
import CTurboJPEG
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The limits a decode stays within, so one huge or hostile file cannot exhaust memory.
public enum JPEGLimits {
    /// Largest file read (bytes).
    public static let maxFileBytes = 64 << 20
    /// Largest decoded image after DCT scaling (pixels; 3 bytes each): 64 megapixels, 192 MB.
    public static let maxDecodedPixels = 64 << 20
}

/// What a JPEG's header says.
public struct JPEGInfo: Equatable {
    public var width: Int, height: Int
    /// TurboJPEG's colour space: TJCS_RGB, TJCS_YCbCr, TJCS_GRAY, TJCS_CMYK or TJCS_YCCK.
    public var colorspace: Int32
    public var isCMYK: Bool { colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue) }
}

/// A decoded image: RGB, 8 bits per channel, rows of `width * 3` bytes, held in the decoder's buffer.
public struct DecodedImage {
    public let width: Int, height: Int
    /// The DCT scaling factor applied (num/denom, 1 when none): the image is the original times this.
    public let scale: (num: Int, denom: Int)
    public let pixels: UnsafePointer<UInt8>
    public init(width: Int, height: Int, scale: (num: Int, denom: Int) = (1, 1), pixels: UnsafePointer<UInt8>) {
        self.width = width; self.height = height; self.scale = scale; self.pixels = pixels
    }
}

/// Photograph-like RGB test images (smooth shading, edges, texture, noise), the same for a
/// seed on every machine: for the tests and the decode benchmark, which need JPEGs of
/// realistic size and entropy without downloads.
public enum SyntheticPhoto {
    public static func rgb(width: Int, height: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        let cx = Double(rng.next(below: width)), cy = Double(rng.next(below: height))
        let hue = (0..<3).map { _ in Double(rng.next(below: 200)) + 30 }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let d = ((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)).squareRoot()
                let disc = d < Double(min(width, height)) / 4 ? 60.0 : 0
                let stripes = 25 * sin(Double(x) * 0.21 + Double(y) * 0.07)
                for c in 0..<3 {
                    let shade = hue[c] * (0.5 + 0.5 * Double(x + y) / Double(width + height))
                    let noise = Double(rng.next(below: 31)) - 15
                    out[(y * width + x) * 3 + c] = UInt8(max(0, min(255, shade + disc + stripes * Double(c + 1) / 3 + noise)))
                }
            }
        }
        return out
    }
}

/// One thread's JPEG decoder.
public final class JPEGDecoder {
    private var handle: tjhandle
    private var pixels: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var file: UnsafeMutablePointer<UInt8>
    private var fileCapacity: Int
    /// The DCT-domain reductions used, smallest first: TurboJPEG's 1/8, 1/4 and 1/2 (and 1).
    /// Its other factors (3/8, 5/8, ...) run scalar IDCTs, which can be slower than a full
    /// decode (measured with `bench-data`, docs/performance.md), so they are not used.
    public static let reductions: [(num: Int, denom: Int)] = {
        var n: Int32 = 0
        guard let f = tjGetScalingFactors(&n) else { return [(1, 1)] }
        let offered = (0..<Int(n)).map { (num: Int(f[$0].num), denom: Int(f[$0].denom)) }
        return [(1, 8), (1, 4), (1, 2), (1, 1)].filter { want in offered.contains { $0.num * want.1 == want.0 * $0.denom } }
    }()

    public init() {
        handle = tjInitDecompress()
        capacity = 1 << 20
        pixels = .allocate(capacity: capacity)
        fileCapacity = 1 << 20
        file = .allocate(capacity: fileCapacity)
    }

    deinit { tjDestroy(handle); pixels.deallocate(); file.deallocate() }

    /// Reads `path` into the decoder's file buffer; returns its byte count.
    public func read(path: String) throws -> Int {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw errno == ENOENT ? DatasetError.missingFile(path: path)
                : DatasetError.badImage(path: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw DatasetError.badImage(path: path, reason: "not a regular file")
        }
        let size = Int(st.st_size)
        guard size <= JPEGLimits.maxFileBytes else {
            throw DatasetError.badImage(path: path, reason: "file of \(size) bytes is larger than the \(JPEGLimits.maxFileBytes)-byte limit")
        }
        if size > fileCapacity {
            file.deallocate(); fileCapacity = size; file = .allocate(capacity: size)
        }
        var done = 0
        while done < size {
            let n = Glibc.read(fd, file + done, size - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw DatasetError.badImage(path: path, reason: n == 0 ? "file shrank while read" : "read error: \(String(cString: strerror(errno)))") }
            done += n
        }
        return size
    }

    /// The header of the file in the buffer (after `read`).
    public func info(bytes: Int, path: String) throws -> JPEGInfo {
        guard bytes >= 3, file[0] == 0xFF, file[1] == 0xD8, file[2] == 0xFF else {
            throw DatasetError.badImage(path: path, reason: "not a JPEG file (no FF D8 FF start of image)")
        }
        var w: Int32 = 0, h: Int32 = 0, sub: Int32 = 0, cs: Int32 = 0
        guard tjDecompressHeader3(handle, file, UInt(bytes), &w, &h, &sub, &cs) == 0 else {
            throw failure(path, "corrupt or truncated JPEG (bad header: \(errorText))")
        }
        guard w > 0, h > 0 else { throw failure(path, "JPEG of \(w)x\(h) pixels") }
        return JPEGInfo(width: Int(w), height: Int(h), colorspace: cs)
    }

    /// Reads and decodes `path` to RGB, reduced in the DCT domain by the smallest of
    /// `reductions` that keeps at least `needed` (width, height) pixels (nil: full size).
    /// A warning (a truncated or corrupt stream) is an error.
    public func decode(path: String, needed: ((JPEGInfo) -> (width: Double, height: Double))? = nil) throws -> DecodedImage {
        let bytes = try read(path: path)
        let info = try self.info(bytes: bytes, path: path)
        var scale = (num: 1, denom: 1)
        if let needed {
            let n = needed(info)
            for f in Self.reductions {
                let w = (info.width * f.num + f.denom - 1) / f.denom, h = (info.height * f.num + f.denom - 1) / f.denom
                if Double(w) >= n.width && Double(h) >= n.height { scale = f; break }
            }
        }
        let w = (info.width * scale.num + scale.denom - 1) / scale.denom
        let h = (info.height * scale.num + scale.denom - 1) / scale.denom
        let (pixelCount, overflow) = w.multipliedReportingOverflow(by: h)
        guard !overflow, pixelCount <= JPEGLimits.maxDecodedPixels else {
            throw DatasetError.badImage(path: path, reason: "\(info.width)x\(info.height) pixels decode to more than the \(JPEGLimits.maxDecodedPixels >> 20)-megapixel limit")
        }
        let channels = info.isCMYK ? 4 : 3
        if pixelCount * channels > capacity {
            pixels.deallocate(); capacity = pixelCount * channels; pixels = .allocate(capacity: capacity)
        }
        let format = info.isCMYK ? Int32(TJPF_CMYK.rawValue) : Int32(TJPF_RGB.rawValue)
        let flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS
        guard tjDecompress2(handle, file, UInt(bytes), pixels, Int32(w), 0, Int32(h), format, flags) == 0 else {
            throw failure(path, "corrupt or truncated JPEG: \(errorText)")
        }
        if info.isCMYK { Self.cmykToRGB(pixels, count: pixelCount) }
        return DecodedImage(width: w, height: h, scale: scale, pixels: UnsafePointer(pixels))
    }

    /// Adobe's inverted CMYK (what Photoshop writes and libjpeg-turbo's tools assume) to
    /// RGB, in place: R = C K / 255, rounded (libjpeg-turbo's cmyk.h).
    static func cmykToRGB(_ p: UnsafeMutablePointer<UInt8>, count: Int) {
        for i in 0..<count {
            let c = Int(p[4 * i]), m = Int(p[4 * i + 1]), y = Int(p[4 * i + 2]), k = Int(p[4 * i + 3])
            p[3 * i] = UInt8((c * k + 127) / 255)
            p[3 * i + 1] = UInt8((m * k + 127) / 255)
            p[3 * i + 2] = UInt8((y * k + 127) / 255)
        }
    }

    private var errorText: String { String(cString: tjGetErrorStr2(handle)) }

    /// The error for `path`, with a fresh handle: after a failed decode TurboJPEG 2.1's
    /// handle can misread the next file's header (seen here: a good file read as 0x0).
    private func failure(_ path: String, _ reason: String) -> DatasetError {
        tjDestroy(handle)
        handle = tjInitDecompress()
        return .badImage(path: path, reason: reason)
    }
}

/// JPEG encoding (TurboJPEG), for writing image folders and test files.
public enum JPEGEncoder {
    public enum Layout { case gray, rgb, cmyk }

    /// Encodes `pixels` (rows of width x 1, 3 or 4 bytes) as a JPEG file's bytes.
    /// `subsampling420`: 4:2:0 chroma (the usual photo setting); otherwise 4:4:4.
    public static func encode(_ pixels: [UInt8], width: Int, height: Int, layout: Layout, quality: Int = 95,
                              progressive: Bool = false, subsampling420: Bool = false) throws -> [UInt8] {
        let channels = layout == .gray ? 1 : layout == .rgb ? 3 : 4
        guard width > 0, height > 0, pixels.count == width * height * channels, (1...100).contains(quality) else {
            throw DatasetError.invalidArgument("cannot encode \(pixels.count) bytes as a \(width)x\(height) image of \(channels) channels at quality \(quality)")
        }
        guard let handle = tjInitCompress() else { throw DatasetError.invalidArgument("TurboJPEG: cannot create a compressor") }
        defer { tjDestroy(handle) }
        let format: TJPF = layout == .gray ? TJPF_GRAY : layout == .rgb ? TJPF_RGB : TJPF_CMYK
        let sampling: TJSAMP = layout == .gray ? TJSAMP_GRAY : subsampling420 ? TJSAMP_420 : TJSAMP_444
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = pixels.withUnsafeBufferPointer {
            tjCompress2(handle, $0.baseAddress, Int32(width), 0, Int32(height), Int32(format.rawValue), &out, &size,
                        Int32(sampling.rawValue), Int32(quality), progressive ? TJFLAG_PROGRESSIVE : 0)
        }
        defer { if let out { tjFree(out) } }
        guard status == 0, let out else {
            throw DatasetError.invalidArgument("TurboJPEG: \(String(cString: tjGetErrorStr2(handle)))")
        }
        return Array(UnsafeBufferPointer(start: out, count: Int(size)))
    }
}

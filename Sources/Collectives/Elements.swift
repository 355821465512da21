// The element types a transfer can carry. Bytes are counted from the element's
// real size, so a 16-bit or 8-bit gradient is counted as what it puts on the wire.
import CMPI

/// A fixed-size value MPI can move. MPI never does arithmetic on it here (the
/// algorithms add on the host), so 16-bit floats travel as 16-bit integers.
public protocol MPIElement {
    static var mpiDatatype: MPI_Datatype { get }
}

extension Float: MPIElement { public static var mpiDatatype: MPI_Datatype { cmpi_float() } }
extension Float16: MPIElement { public static var mpiDatatype: MPI_Datatype { cmpi_uint16() } }
extension UInt8: MPIElement { public static var mpiDatatype: MPI_Datatype { cmpi_uint8() } }
extension Int32: MPIElement { public static var mpiDatatype: MPI_Datatype { cmpi_int32() } }
extension BFloat16: MPIElement { public static var mpiDatatype: MPI_Datatype { cmpi_uint16() } }

/// bfloat16: the upper 16 bits of an IEEE single (8 exponent bits, 7 mantissa bits),
/// as Google Brain's TPUs and Horovod's compressors use it. Swift has no such type.
public struct BFloat16: Equatable, Sendable {
    public var bitPattern: UInt16

    public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    /// Rounds to nearest, ties to even; NaN stays NaN (quiet).
    public init(_ value: Float) {
        let bits = value.bitPattern
        if value.isNaN {
            bitPattern = UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
        } else {
            let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
            bitPattern = UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
        }
    }

    public var float: Float { Float(bitPattern: UInt32(bitPattern) << 16) }
}

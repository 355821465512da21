// The element types a transfer can carry. Bytes are counted from the element's
// real size, so a 16-bit or 8-bit gradient is counted as what it puts on the wire.
import CMPI
import Codecs

/// A fixed-size value MPI can move. MPI never does arithmetic on it here (the
/// algorithms add on the host), so 16-bit floats travel as 16-bit integers.
public protocol MPIElement {
    static var mpiDatatype: MPI_Datatype { get }
}

extension Float: MPIElement { public static var mpiDatatype: MPI_Datatype { cmpi_float() } }
extension Float16: MPIElement { public static var mpiDatatype: MPI_Datatype { cmpi_uint16() } }
extension UInt16: MPIElement { public static var mpiDatatype: MPI_Datatype { cmpi_uint16() } }
extension UInt8: MPIElement { public static var mpiDatatype: MPI_Datatype { cmpi_uint8() } }
extension UInt32: MPIElement { public static var mpiDatatype: MPI_Datatype { cmpi_uint32() } }
extension Int32: MPIElement { public static var mpiDatatype: MPI_Datatype { cmpi_int32() } }
extension BFloat16: MPIElement { public static var mpiDatatype: MPI_Datatype { cmpi_uint16() } }

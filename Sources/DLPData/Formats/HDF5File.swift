import CHDF5
import DLPTensor
import Foundation

/// An HDF5 file held in memory, through libhdf5's core driver: read from the bytes of a file
/// (a `.weights.h5`, or the `model.weights.h5` inside a `.keras` zip), or built and then taken
/// out as bytes (written atomically, or put into a zip). Only what Keras's weight files use:
/// groups, float32/int32 datasets (scalars included) and string attributes.
///
/// Files from elsewhere are checked before use: soft and external links, external and virtual
/// datasets are refused (as Keras's loader refuses them), and a dataset must not declare far
/// more data than the file could hold.
public final class HDF5File {
  let id: hid_t
  public let source: String

  /// libhdf5 (the serial build Debian ships) is not thread-safe: every call goes through here.
  static let lock = NSRecursiveLock()
  nonisolated(unsafe) static var counter = 0

  private init(id: hid_t, source: String) {
    self.id = id
    self.source = source
  }

  deinit { _ = HDF5File.locked { H5Fclose(id) } }

  static func locked<T>(_ body: () throws -> T) rethrows -> T {
    lock.lock()
    defer { lock.unlock() }
    return try body()
  }

  /// A file access property list for an in-memory file, with `image` as its contents if given.
  private static func memoryAccess(image: [UInt8]?) -> hid_t {
    let fapl = H5Pcreate(dlp_h5p_file_access())
    guard fapl >= 0 else { return -1 }
    // Grow the memory image 1 MiB at a time; never write it to disk (backing_store 0).
    H5Pset_fapl_core(fapl, 1 << 20, hbool_t(false))
    if let image {
      image.withUnsafeBytes { raw in
        _ = H5Pset_file_image(fapl, UnsafeMutableRawPointer(mutating: raw.baseAddress), raw.count)
      }
    }
    return fapl
  }

  private static func uniqueName(_ hint: String) -> String {
    counter += 1
    return "dlp-memory-\(getpid())-\(counter)-\(URL(fileURLWithPath: hint).lastPathComponent)"
  }

  /// Opens the HDF5 file whose bytes are `bytes` (read-only).
  public static func read(bytes: [UInt8], source: String) throws -> HDF5File {
    guard bytes.count >= 8, Array(bytes[0..<8]) == [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A] else {
      throw DLPError.data("\(source): not an HDF5 file (no HDF5 signature)")
    }
    return try locked {
      dlp_h5_quiet()
      let fapl = memoryAccess(image: bytes)
      guard fapl >= 0 else { throw DLPError.data("\(source): libhdf5 could not set up a memory file") }
      defer { H5Pclose(fapl) }
      let id = H5Fopen(uniqueName(source), dlp_h5f_acc_rdonly(), fapl)
      guard id >= 0 else { throw DLPError.data("\(source): libhdf5 cannot open it (corrupt or truncated HDF5 file?)") }
      return HDF5File(id: id, source: source)
    }
  }

  public static func read(contentsOf url: URL) throws -> HDF5File {
    try read(bytes: FileIO.readBytes(url), source: url.path)
  }

  /// A new, empty file in memory; `imageBytes()` gives its contents.
  public static func create(source: String = "a new HDF5 file") throws -> HDF5File {
    try locked {
      dlp_h5_quiet()
      let fapl = memoryAccess(image: nil)
      guard fapl >= 0 else { throw DLPError.io("libhdf5 could not set up a memory file") }
      defer { H5Pclose(fapl) }
      let id = H5Fcreate(uniqueName(source), dlp_h5f_acc_trunc(), hid_t(H5P_DEFAULT), fapl)
      guard id >= 0 else { throw DLPError.io("libhdf5 could not create a memory file for \(source)") }
      return HDF5File(id: id, source: source)
    }
  }

  /// The root group `/`.
  public func root() throws -> HDF5Group {
    try HDF5File.locked {
      let g = H5Gopen2(id, "/", hid_t(H5P_DEFAULT))
      guard g >= 0 else { throw DLPError.data("\(source): cannot open its root group") }
      return HDF5Group(id: g, path: "", file: self)
    }
  }

  /// The file's bytes, as they would be on disk.
  public func imageBytes() throws -> [UInt8] {
    try HDF5File.locked {
      guard H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 else { throw DLPError.io("\(source): libhdf5 could not flush") }
      let size = H5Fget_file_image(id, nil, 0)
      guard size > 0 else { throw DLPError.io("\(source): libhdf5 gave no file image") }
      var bytes = [UInt8](repeating: 0, count: size)
      let got = bytes.withUnsafeMutableBytes { H5Fget_file_image(id, $0.baseAddress, size) }
      guard got == size else { throw DLPError.io("\(source): libhdf5 gave a short file image") }
      return bytes
    }
  }
}

/// A group of an `HDF5File`.
public final class HDF5Group {
  let id: hid_t
  /// Slash-separated path from the root ("" for the root), for messages.
  public let path: String
  public let file: HDF5File

  init(id: hid_t, path: String, file: HDF5File) {
    self.id = id
    self.path = path
    self.file = file
  }

  deinit { _ = HDF5File.locked { H5Gclose(id) } }

  func describe(_ name: String) -> String { "\(file.source): '\(path.isEmpty ? name : path + "/" + name)'" }

  /// The names of the group's members, in name order.
  public func childNames() throws -> [String] {
    try HDF5File.locked {
      var info = H5G_info_t()
      guard H5Gget_info(id, &info) >= 0 else { throw DLPError.data("\(file.source): cannot list '\(path)'") }
      guard info.nlinks < 1 << 20 else { throw DLPError.data("\(file.source): '\(path)' has \(info.nlinks) members") }
      var names: [String] = []
      for i in 0..<info.nlinks {
        let n = H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, hid_t(H5P_DEFAULT))
        guard n >= 0, n < 1 << 16 else { throw DLPError.data("\(file.source): bad member name in '\(path)'") }
        var buffer = [CChar](repeating: 0, count: n + 1)
        _ = H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buffer, n + 1, hid_t(H5P_DEFAULT))
        names.append(Self.string(buffer))
      }
      return names
    }
  }

  /// What a member is (see `dlp_h5_link_kind`), refusing names libhdf5 would read as paths.
  private func kind(_ name: String) throws -> Int32 {
    guard !name.isEmpty, !name.contains("/"), name != "." else {
      throw DLPError.data("\(file.source): invalid member name '\(name)' in '\(path)'")
    }
    let k = dlp_h5_link_kind(id, name)
    if k == 3 { throw DLPError.data("\(describe(name)) is a soft or external link, which is not allowed") }
    return k
  }

  public func contains(_ name: String) throws -> Bool { try HDF5File.locked { try kind(name) >= 0 } }

  /// The member group `name`, or nil when there is none.
  public func group(_ name: String) throws -> HDF5Group? {
    try HDF5File.locked {
      switch try kind(name) {
      case -1: return nil
      case 0:
        let g = H5Gopen2(id, name, hid_t(H5P_DEFAULT))
        guard g >= 0 else { throw DLPError.data("cannot open \(describe(name))") }
        return HDF5Group(id: g, path: path.isEmpty ? name : path + "/" + name, file: file)
      default: throw DLPError.data("\(describe(name)) is not a group")
      }
    }
  }

  /// Creates the member group `name`.
  public func createGroup(_ name: String) throws -> HDF5Group {
    try HDF5File.locked {
      guard try kind(name) == -1 else { throw DLPError.io("\(describe(name)) exists already") }
      let g = H5Gcreate2(id, name, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
      guard g >= 0 else { throw DLPError.io("libhdf5 could not create \(describe(name))") }
      return HDF5Group(id: g, path: path.isEmpty ? name : path + "/" + name, file: file)
    }
  }

  /// The dataset `name` as float32 values (integer and float datasets are converted), with its
  /// shape ([] for a scalar).
  public func readFloats(_ name: String) throws -> (shape: [Int], values: [Float]) {
    try HDF5File.locked {
      guard try kind(name) == 1 else { throw DLPError.data("\(describe(name)) is not a dataset") }
      let d = H5Dopen2(id, name, hid_t(H5P_DEFAULT))
      guard d >= 0 else { throw DLPError.data("cannot open \(describe(name))") }
      defer { H5Dclose(d) }
      guard dlp_h5_dataset_is_plain(d) == 1 else {
        throw DLPError.data("\(describe(name)) is an external or virtual dataset, which is not allowed")
      }
      let type = H5Dget_type(d)
      defer { H5Tclose(type) }
      let cls = H5Tget_class(type)
      guard cls == H5T_FLOAT || cls == H5T_INTEGER else {
        throw DLPError.data("\(describe(name)) holds neither floats nor integers")
      }
      let space = H5Dget_space(d)
      defer { H5Sclose(space) }
      let rank = H5Sget_simple_extent_ndims(space)
      guard rank >= 0, rank <= 32 else { throw DLPError.data("\(describe(name)) has an unusable shape (rank \(rank))") }
      var dims = [hsize_t](repeating: 0, count: Int(rank))
      if rank > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
      var count = 1
      for d in dims {
        let (p, overflow) = count.multipliedReportingOverflow(by: Int(clamping: d))
        guard !overflow, p <= 1 << 32 else {
          throw DLPError.data("\(describe(name)) declares too many values (\(dims))")
        }
        count = p
      }
      // A shape bomb declares gigabytes while storing almost nothing (Keras refuses these too).
      let declared = count * 4
      let stored = Int(H5Dget_storage_size(d))
      if declared > 1 << 28 && declared > 1000 * stored {
        throw DLPError.data("\(describe(name)) declares \(declared) bytes but stores \(stored): refused")
      }
      var values = [Float](repeating: 0, count: count)
      if count > 0 {
        let status = values.withUnsafeMutableBytes {
          H5Dread(d, dlp_h5t_native_float(), hid_t(H5S_ALL), hid_t(H5S_ALL), hid_t(H5P_DEFAULT), $0.baseAddress)
        }
        guard status >= 0 else { throw DLPError.data("libhdf5 could not read \(describe(name))") }
      }
      return (dims.map { Int($0) }, values)
    }
  }

  /// What kind of member `name` is: "group", "dataset", or nil when absent.
  public func memberKind(_ name: String) throws -> String? {
    try HDF5File.locked {
      switch try kind(name) {
      case -1: return nil
      case 0: return "group"
      case 1: return "dataset"
      default: return "other"
      }
    }
  }

  /// The element type of dataset `name` as numpy names it (`float32`, `int32`, ...).
  public func datasetType(_ name: String) throws -> String {
    try HDF5File.locked {
      guard try kind(name) == 1 else { throw DLPError.data("\(describe(name)) is not a dataset") }
      let d = H5Dopen2(id, name, hid_t(H5P_DEFAULT))
      guard d >= 0 else { throw DLPError.data("cannot open \(describe(name))") }
      defer { H5Dclose(d) }
      let type = H5Dget_type(d)
      defer { H5Tclose(type) }
      let bits = 8 * H5Tget_size(type)
      switch H5Tget_class(type) {
      case H5T_FLOAT: return "float\(bits)"
      case H5T_INTEGER: return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + "\(bits)"
      default: return "other"
      }
    }
  }

  /// Writes a float32 dataset of `shape` ([] for a scalar).
  public func write(_ name: String, shape: [Int], floats: [Float]) throws {
    guard shape.reduce(1, *) == floats.count else {
      throw DLPError.io("\(describe(name)): \(floats.count) values for shape \(shape)")
    }
    try writeDataset(name, shape: shape, fileType: dlp_h5t_ieee_f32le(), memoryType: dlp_h5t_native_float()) { d, mem in
      floats.withUnsafeBytes { H5Dwrite(d, mem, hid_t(H5S_ALL), hid_t(H5S_ALL), hid_t(H5P_DEFAULT), $0.baseAddress) }
    }
  }

  /// Writes an int32 scalar dataset (an optimizer's `iterations`).
  public func write(_ name: String, int32 value: Int32) throws {
    try writeDataset(name, shape: [], fileType: dlp_h5t_std_i32le(), memoryType: dlp_h5t_native_int32()) { d, mem in
      withUnsafeBytes(of: value) {
        H5Dwrite(d, mem, hid_t(H5S_ALL), hid_t(H5S_ALL), hid_t(H5P_DEFAULT), $0.baseAddress)
      }
    }
  }

  private func writeDataset(
    _ name: String, shape: [Int], fileType: hid_t, memoryType: hid_t, write: (hid_t, hid_t) -> herr_t
  ) throws {
    try HDF5File.locked {
      guard try kind(name) == -1 else { throw DLPError.io("\(describe(name)) exists already") }
      let dims = shape.map { hsize_t($0) }
      let space = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(shape.count), dims, nil)
      guard space >= 0 else { throw DLPError.io("libhdf5 could not make the shape \(shape) of \(describe(name))") }
      defer { H5Sclose(space) }
      let d = H5Dcreate2(id, name, fileType, space, hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT), hid_t(H5P_DEFAULT))
      guard d >= 0 else { throw DLPError.io("libhdf5 could not create \(describe(name))") }
      defer { H5Dclose(d) }
      guard shape.contains(0) || write(d, memoryType) >= 0 else {
        throw DLPError.io("libhdf5 could not write \(describe(name))")
      }
    }
  }

  /// A string attribute of the group, or nil when it has none.
  public func stringAttribute(_ name: String) -> String? {
    HDF5File.locked {
      var buffer = [CChar](repeating: 0, count: 4096)
      let n = dlp_h5_read_string_attribute(id, name, &buffer, buffer.count)
      return n < 0 ? nil : Self.string(buffer)
    }
  }

  /// A NUL-terminated C string buffer as a Swift string.
  static func string(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Sets a string attribute, stored as h5py stores a Python `str` (scalar, UTF-8, variable length).
  public func setStringAttribute(_ name: String, _ value: String) throws {
    try HDF5File.locked {
      guard dlp_h5_write_string_attribute(id, name, value) >= 0 else {
        throw DLPError.io("libhdf5 could not write attribute '\(name)' of '\(path)' in \(file.source)")
      }
    }
  }
}

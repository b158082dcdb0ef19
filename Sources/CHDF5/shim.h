// libhdf5 (Debian: libhdf5-dev, headers under /usr/include/hdf5/serial, found through
// pkg-config "hdf5"). HDF5's type and property-list ids are macros that call H5open() and read a
// global; Swift cannot import those, so each is wrapped in a small inline function here, with
// the few multi-step operations (variable-length string attributes, link kinds) kept in C.
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

static inline hid_t dlp_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t dlp_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t dlp_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t dlp_h5t_std_i32le(void) { return H5T_STD_I32LE; }
static inline hid_t dlp_h5t_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t dlp_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline unsigned dlp_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned dlp_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }

/// Stops libhdf5 from printing its error stack on stderr: DLP reports errors itself.
static inline void dlp_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/// What `name` in group `loc` is: -1 absent (or an error), 0 a group, 1 a dataset, 2 another
/// kind of object, 3 a soft or external link (which DLP never follows).
static inline int dlp_h5_link_kind(hid_t loc, const char *name) {
  if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return -1;
  H5L_info_t info;
  if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) return -1;
  if (info.type != H5L_TYPE_HARD) return 3;
  hid_t obj = H5Oopen(loc, name, H5P_DEFAULT);
  if (obj < 0) return -1;
  H5I_type_t t = H5Iget_type(obj);
  H5Oclose(obj);
  return t == H5I_GROUP ? 0 : t == H5I_DATASET ? 1 : 2;
}

/// 1 when a dataset keeps its data in this file (no external files, not virtual), else 0.
static inline int dlp_h5_dataset_is_plain(hid_t dset) {
  hid_t dcpl = H5Dget_create_plist(dset);
  if (dcpl < 0) return 0;
  int ok = H5Pget_external_count(dcpl) == 0 && H5Pget_layout(dcpl) != H5D_VIRTUAL;
  H5Pclose(dcpl);
  return ok;
}

/// Writes a scalar UTF-8 variable-length string attribute, as h5py writes a Python str.
static inline herr_t dlp_h5_write_string_attribute(hid_t loc, const char *name, const char *value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  if (type < 0) return -1;
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t status = attr < 0 ? -1 : H5Awrite(attr, type, &value);
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  return status;
}

/// Reads a scalar string attribute (fixed or variable length) into `buffer` (NUL-terminated,
/// truncated to `capacity - 1` bytes). Returns its length, or -1 when it is absent or not a
/// string.
static inline long dlp_h5_read_string_attribute(hid_t loc, const char *name, char *buffer, size_t capacity) {
  if (capacity == 0 || H5Aexists(loc, name) <= 0) return -1;
  hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
  if (attr < 0) return -1;
  hid_t type = H5Aget_type(attr);
  long length = -1;
  if (H5Tget_class(type) == H5T_STRING) {
    if (H5Tis_variable_str(type) > 0) {
      // libhdf5 does not convert between ASCII and UTF-8 strings: read in the file's set.
      hid_t memtype = H5Tcopy(H5T_C_S1);
      H5Tset_size(memtype, H5T_VARIABLE);
      H5Tset_cset(memtype, H5Tget_cset(type));
      char *value = NULL;
      if (H5Aread(attr, memtype, &value) >= 0 && value != NULL) {
        length = (long)strlen(value);
        size_t n = (size_t)length < capacity - 1 ? (size_t)length : capacity - 1;
        memcpy(buffer, value, n);
        buffer[n] = 0;
        H5free_memory(value);
      }
      H5Tclose(memtype);
    } else {
      size_t size = H5Tget_size(type);
      if (size > 0 && size < (1u << 20)) {
        char *value = (char *)calloc(size + 1, 1);
        hid_t memtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(memtype, size + 1);
        H5Tset_cset(memtype, H5Tget_cset(type));
        if (value != NULL && H5Aread(attr, memtype, value) >= 0) {
          length = (long)strlen(value);
          size_t n = (size_t)length < capacity - 1 ? (size_t)length : capacity - 1;
          memcpy(buffer, value, n);
          buffer[n] = 0;
        }
        H5Tclose(memtype);
        free(value);
      }
    }
  }
  H5Tclose(type);
  H5Aclose(attr);
  return length;
}

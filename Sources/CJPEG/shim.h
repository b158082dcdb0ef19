// libjpeg(-turbo) decoding for Swift. libjpeg reports errors by calling error_exit, which must
// not return; Swift cannot catch a longjmp, so the setjmp lives here, in C, and the decoder
// returns an error message instead.
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

struct dlp_jpeg_error {
  struct jpeg_error_mgr manager;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

static void dlp_jpeg_error_exit(j_common_ptr info) {
  struct dlp_jpeg_error *e = (struct dlp_jpeg_error *)info->err;
  (*info->err->format_message)(info, e->message);
  longjmp(e->jump, 1);
}

static void dlp_jpeg_silent(j_common_ptr info) { (void)info; }

/// Decodes a JPEG held in memory to 8-bit samples, `channels` 1 (libjpeg's grayscale output
/// conversion) or 3 (RGB), with the integer fast DCT and fancy upsampling (what TensorFlow's
/// decode_jpeg uses by default). On success returns 0 and sets *pixels (free() it), *height,
/// *width; on failure returns -1 with a message in `error` (`error_size` bytes).
static inline int dlp_jpeg_decode(const unsigned char *data, unsigned long size, int channels,
                                  unsigned char **pixels, int *height, int *width,
                                  char *error, int error_size) {
  struct jpeg_decompress_struct info;
  struct dlp_jpeg_error e;
  unsigned char *volatile out = NULL;
  *pixels = NULL;
  info.err = jpeg_std_error(&e.manager);
  e.manager.error_exit = dlp_jpeg_error_exit;
  e.manager.output_message = dlp_jpeg_silent;
  e.message[0] = 0;
  if (setjmp(e.jump)) {
    snprintf(error, (size_t)error_size, "%s", e.message);
    jpeg_destroy_decompress(&info);
    free(out);
    return -1;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, size);
  jpeg_read_header(&info, TRUE);
  if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
    snprintf(error, (size_t)error_size, "CMYK JPEG images are not supported");
    jpeg_destroy_decompress(&info);
    return -1;
  }
  info.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  info.dct_method = JDCT_IFAST;
  info.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&info);
  size_t stride = (size_t)info.output_width * (size_t)info.output_components;
  out = (unsigned char *)malloc(stride * info.output_height + 1);
  if (!out) {
    snprintf(error, (size_t)error_size, "out of memory");
    jpeg_destroy_decompress(&info);
    return -1;
  }
  while (info.output_scanline < info.output_height) {
    unsigned char *row = out + stride * info.output_scanline;
    jpeg_read_scanlines(&info, &row, 1);
  }
  *height = (int)info.output_height;
  *width = (int)info.output_width;
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  *pixels = out;
  return 0;
}

/// Encodes 8-bit samples (`channels` 1: grayscale, 3: RGB) as a baseline JPEG of `quality`.
/// On success returns 0 and sets *jpeg (free() it) and *size; on failure -1 with a message.
static inline int dlp_jpeg_encode(const unsigned char *pixels, int height, int width, int channels, int quality,
                                  unsigned char **jpeg, unsigned long *size, char *error, int error_size) {
  struct jpeg_compress_struct info;
  struct dlp_jpeg_error e;
  unsigned char *volatile buffer = NULL;
  unsigned long volatile length = 0;
  *jpeg = NULL;
  info.err = jpeg_std_error(&e.manager);
  e.manager.error_exit = dlp_jpeg_error_exit;
  e.manager.output_message = dlp_jpeg_silent;
  e.message[0] = 0;
  if (setjmp(e.jump)) {
    snprintf(error, (size_t)error_size, "%s", e.message);
    jpeg_destroy_compress(&info);
    free(buffer);
    return -1;
  }
  jpeg_create_compress(&info);
  jpeg_mem_dest(&info, (unsigned char **)&buffer, (unsigned long *)&length);
  info.image_width = (JDIMENSION)width;
  info.image_height = (JDIMENSION)height;
  info.input_components = channels;
  info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = (JSAMPROW)(pixels + (size_t)info.next_scanline * (size_t)width * (size_t)channels);
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  *jpeg = buffer;
  *size = length;
  return 0;
}

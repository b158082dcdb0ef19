// libpng's simplified API (png_image_*): decoding without setjmp, errors in image.message.
#include <png.h>

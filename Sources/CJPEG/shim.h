// libjpeg(-turbo) behind one call that cannot take the process down: libjpeg reports fatal errors through
// error_exit, which must not return, so it longjmps back here (Swift cannot catch a longjmp itself).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} cjpeg_error_manager;

static void cjpeg_error_exit(j_common_ptr info) {
    cjpeg_error_manager *manager = (cjpeg_error_manager *)info->err;
    (*info->err->format_message)(info, manager->message);
    longjmp(manager->jump, 1);
}

// Warnings (truncated data, bad Huffman codes) are kept, not printed: the caller treats them as corruption.
static void cjpeg_output_message(j_common_ptr info) {
    cjpeg_error_manager *manager = (cjpeg_error_manager *)info->err;
    if (manager->message[0] == 0) (*info->err->format_message)(info, manager->message);
}

/// Decodes a JPEG held in memory to 8-bit interleaved RGB. Returns 0 with *pixels (malloc'd, width·height·3 bytes,
/// the caller frees it); 1 on a fatal error, 2 when libjpeg warned (damaged data), 3 above max_pixels; message says why.
static inline int cjpeg_decode_rgb(const unsigned char *data, unsigned long size, unsigned long max_pixels,
                                   unsigned char **pixels, int *width, int *height, char *message, int message_capacity) {
    struct jpeg_decompress_struct info;
    cjpeg_error_manager manager;
    unsigned char *volatile out = NULL;
    volatile int status = 0;
    memset(&manager, 0, sizeof manager);
    info.err = jpeg_std_error(&manager.base);
    manager.base.error_exit = cjpeg_error_exit;
    manager.base.output_message = cjpeg_output_message;
    *pixels = NULL;
    if (setjmp(manager.jump)) {
        jpeg_destroy_decompress(&info);
        free(out);
        snprintf(message, message_capacity, "%s", manager.message);
        return 1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, size);
    jpeg_read_header(&info, TRUE);
    info.out_color_space = JCS_RGB;
    if ((unsigned long)info.image_width * (unsigned long)info.image_height > max_pixels) {
        snprintf(message, message_capacity, "%u x %u pixels is above the limit of %lu", info.image_width, info.image_height, max_pixels);
        jpeg_destroy_decompress(&info);
        return 3;
    }
    jpeg_start_decompress(&info);
    size_t stride = (size_t)info.output_width * 3;
    out = (unsigned char *)malloc(stride * info.output_height + 1);
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = out + stride * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    if (manager.base.num_warnings > 0) {
        snprintf(message, message_capacity, "%s", manager.message);
        status = 2;
    }
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    jpeg_destroy_decompress(&info);
    if (status != 0) { free(out); return status; }
    *pixels = out;
    return 0;
}

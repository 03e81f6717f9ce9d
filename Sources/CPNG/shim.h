// libpng's simplified API (png_image_*): it reports errors through the png_image's message instead of longjmp.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

/// Decodes a PNG held in memory to 8-bit interleaved RGB, alpha composited on white (product photos' usual
/// background). Returns 0 with *pixels (malloc'd, the caller frees it); 1 on error, 3 above max_pixels.
static inline int cpng_decode_rgb(const unsigned char *data, unsigned long size, unsigned long max_pixels,
                                  unsigned char **pixels, int *width, int *height, char *message, int message_capacity) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    *pixels = NULL;
    if (!png_image_begin_read_from_memory(&image, data, size)) {
        snprintf(message, message_capacity, "%s", image.message);
        png_image_free(&image);
        return 1;
    }
    if ((unsigned long)image.width * (unsigned long)image.height > max_pixels) {
        snprintf(message, message_capacity, "%u x %u pixels is above the limit of %lu", image.width, image.height, max_pixels);
        png_image_free(&image);
        return 3;
    }
    // 16-bit files are linear to libpng, which would gamma-encode them on the way to 8 bits: read them as 16-bit
    // linear RGB (no conversion) and keep the top byte's worth ourselves, as 8-bit tools do.
    int sixteen = (image.format & PNG_FORMAT_FLAG_LINEAR) != 0;
    image.format = sixteen ? PNG_FORMAT_LINEAR_RGB : PNG_FORMAT_RGB;
    size_t samples = (size_t)image.width * image.height * 3;
    void *buffer = malloc(PNG_IMAGE_SIZE(image) + 1);
    png_color white = {255, 255, 255};
    if (!png_image_finish_read(&image, &white, buffer, 0, NULL)) {
        snprintf(message, message_capacity, "%s", image.message);
        png_image_free(&image);
        free(buffer);
        return 1;
    }
    unsigned char *out = (unsigned char *)buffer;
    if (sixteen) {
        const unsigned short *wide = (const unsigned short *)buffer;
        for (size_t i = 0; i < samples; i++) out[i] = (unsigned char)((wide[i] + 128) / 257);
    }
    *width = (int)image.width;
    *height = (int)image.height;
    *pixels = out;
    return 0;
}

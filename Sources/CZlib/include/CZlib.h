#ifndef C_ZLIB_H
#define C_ZLIB_H

#include <zlib.h>

/// Raw deflate (no zlib or gzip wrapper), so independently compressed pieces can be joined
/// into one gzip member. `window_bits` 9...15; `mem_level` 1...9 (zlib's memory/speed knob).
static inline int mitra_deflate_init_raw(z_streamp stream, int level, int window_bits, int mem_level) {
    return deflateInit2(stream, level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY);
}

#endif

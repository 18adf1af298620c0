#ifndef C_MALLOC_TUNING_H
#define C_MALLOC_TUNING_H

/// Sets glibc's mmap threshold: allocations of at least `bytes` are served by mmap and given
/// back to the system when freed. Returns 1 on success, 0 when unsupported.
int mitra_set_mmap_threshold(int bytes);

#include <stddef.h>

/// Hands the heap's free pages back to the system (glibc keeps freed memory mapped unless it
/// lies at the top of the heap) when at least `minimum_free` bytes are free inside it.
/// Returns 1 when memory was released, 0 otherwise or when unsupported.
int mitra_return_free_heap(size_t minimum_free);

// Linking this library also limits glibc to one malloc arena, from before main (a constructor
// in malloc_tuning.c, which says why).

#endif

#ifndef C_MALLOC_TUNING_H
#define C_MALLOC_TUNING_H

/// Sets glibc's mmap threshold: allocations of at least `bytes` are served by mmap and given
/// back to the system when freed. Returns 1 on success, 0 when unsupported.
int mitra_set_mmap_threshold(int bytes);

// Linking this library also limits glibc to one malloc arena, from before main (a constructor
// in malloc_tuning.c, which says why).

#endif

#ifndef C_PCRE2_H
#define C_PCRE2_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

/// Compiles a UTF-8 pattern with Unicode semantics for \w, \d, \b and case folding, and with
/// a callout before every item so a match can be stopped at a deadline. Returns NULL on
/// error, with PCRE2's message in `message` and the byte offset of the problem in `offset`.
pcre2_code_8 *mitra_regex_compile(const char *pattern, size_t length, int caseless,
                                  char *message, size_t message_size, size_t *offset);

void mitra_regex_free(pcre2_code_8 *code);

/// Number of capture groups in the pattern.
uint32_t mitra_regex_capture_count(const pcre2_code_8 *code);

/// Searches `subject` from byte `start`. Returns 1 on a match with `ovector` holding
/// `pairs` start/end byte offsets (unset groups are PCRE2_UNSET), 0 when there is none,
/// -1 when `budget_ns` of monotonic time ran out first, -2 on any other matching error.
int mitra_regex_match(const pcre2_code_8 *code, const char *subject, size_t length, size_t start,
                      int64_t budget_ns, size_t *ovector, uint32_t pairs);

#endif

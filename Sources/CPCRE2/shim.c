#define _GNU_SOURCE
#include <string.h>
#include <time.h>
#include "CPCRE2.h"

static int64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

pcre2_code_8 *mitra_regex_compile(const char *pattern, size_t length, int caseless,
                                  char *message, size_t message_size, size_t *offset) {
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_AUTO_CALLOUT | (caseless ? PCRE2_CASELESS : 0);
    pcre2_code_8 *code = pcre2_compile_8((PCRE2_SPTR8)pattern, length, options, &error, &error_offset, NULL);
    if (code == NULL) {
        if (message_size > 0) {
            if (pcre2_get_error_message_8(error, (PCRE2_UCHAR8 *)message, message_size) < 0) message[0] = 0;
        }
        *offset = error_offset;
    }
    return code;
}

void mitra_regex_free(pcre2_code_8 *code) { pcre2_code_free_8(code); }

uint32_t mitra_regex_capture_count(const pcre2_code_8 *code) {
    uint32_t count = 0;
    pcre2_pattern_info_8(code, PCRE2_INFO_CAPTURECOUNT, &count);
    return count;
}

struct deadline {
    int64_t at;
    uint32_t calls;
};

/// Called before every pattern item: reading the clock costs more than a step, so it is
/// read every 4096 calls (microseconds apart even on a slow machine).
static int check_deadline(pcre2_callout_block_8 *block, void *data) {
    (void)block;
    struct deadline *deadline = data;
    if ((++deadline->calls & 4095) == 0 && monotonic_ns() > deadline->at) return PCRE2_ERROR_CALLOUT;
    return 0;
}

int mitra_regex_match(const pcre2_code_8 *code, const char *subject, size_t length, size_t start,
                      int64_t budget_ns, size_t *ovector, uint32_t pairs) {
    pcre2_match_data_8 *match = pcre2_match_data_create_from_pattern_8(code, NULL);
    pcre2_match_context_8 *context = pcre2_match_context_create_8(NULL);
    if (match == NULL || context == NULL) {
        pcre2_match_data_free_8(match);
        pcre2_match_context_free_8(context);
        return -2;
    }
    struct deadline deadline = {monotonic_ns() + (budget_ns > 0 ? budget_ns : 0), 0};
    pcre2_set_callout_8(context, check_deadline, &deadline);
    // The deadline bounds the work; PCRE2's own step limit (10 million) would stop
    // legitimate searches through large bodies.
    pcre2_set_match_limit_8(context, UINT32_MAX);
    int rc = pcre2_match_8(code, (PCRE2_SPTR8)subject, length, start, PCRE2_NO_UTF_CHECK, match, context);
    int result;
    if (rc >= 0) {
        uint32_t available = pcre2_get_ovector_count_8(match);
        PCRE2_SIZE *found = pcre2_get_ovector_pointer_8(match);
        for (uint32_t i = 0; i < pairs; i++) {
            ovector[2 * i] = i < available ? found[2 * i] : PCRE2_UNSET;
            ovector[2 * i + 1] = i < available ? found[2 * i + 1] : PCRE2_UNSET;
        }
        result = 1;
    } else if (rc == PCRE2_ERROR_NOMATCH) {
        result = 0;
    } else if (rc == PCRE2_ERROR_CALLOUT || rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT) {
        result = -1;
    } else {
        result = -2;
    }
    pcre2_match_data_free_8(match);
    pcre2_match_context_free_8(context);
    return result;
}

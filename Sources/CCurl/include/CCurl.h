#ifndef MITRA_CCURL_H
#define MITRA_CCURL_H
#include <curl/curl.h>

/* curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, which Swift
   cannot call; these typed wrappers fix the argument type per option kind. */
static inline CURLcode mitra_curl_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode mitra_curl_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode mitra_curl_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode mitra_curl_easy_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode mitra_curl_easy_setopt_write_callback(CURL *h, size_t (*cb)(char *, size_t, size_t, void *)) { return curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, cb); }
static inline CURLcode mitra_curl_easy_setopt_header_callback(CURL *h, size_t (*cb)(char *, size_t, size_t, void *)) { return curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, cb); }
static inline CURLcode mitra_curl_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode mitra_curl_easy_getinfo_off_t(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode mitra_curl_easy_getinfo_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode mitra_curl_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLMcode mitra_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }

/* CURL_GLOBAL_DEFAULT is a macro built from other macros. */
static inline CURLcode mitra_curl_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Reads the next finished transfer from the multi handle; returns 0 when there is none.
   Hides the CURLMsg union from Swift. */
static inline int mitra_curl_multi_next_done(CURLM *m, CURL **easy, CURLcode *result) {
    int queued = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(m, &queued)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            *easy = msg->easy_handle;
            *result = msg->data.result;
            return 1;
        }
    }
    return 0;
}

/* TLS details of the transfer's current connection: the negotiated protocol version (a
   static string owned by OpenSSL) and the earliest notAfter of the certificates the peer
   sent, in seconds since the epoch (0 when unknown). Returns 0 when the connection is not
   TLS. Call while the connection is alive (from the header callback). */
int mitra_curl_tls_info(CURL *h, const char **version, long long *earliest_expiry);

/// Names the calling thread (at most 15 bytes show), for `top -H` and debuggers.
void mitra_set_current_thread_name(const char *name);

/* Returns freed heap memory to the system (glibc keeps it mapped otherwise). */
#if defined(__GLIBC__)
#include <malloc.h>
static inline void mitra_release_free_memory(void) { malloc_trim(0); }
#else
static inline void mitra_release_free_memory(void) {}
#endif
#endif

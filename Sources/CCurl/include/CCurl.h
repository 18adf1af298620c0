#ifndef MITRA_CCURL_H
#define MITRA_CCURL_H
#include <curl/curl.h>

/* libcurl is not linked: it is loaded with dlopen when the first HTTP check starts. Loading
   it (and the dozen libraries it needs: nghttp2, ssh2, rtmp, brotli, ...) costs about
   1.2 MiB of resident pages and start-up work that a configuration with PostgreSQL
   instances only never uses. Every libcurl call goes through these functions.

   Loads libcurl (once; later calls return the first outcome) and runs curl_global_init.
   Returns NULL on success, otherwise a message naming the library and the cause. */
const char *mitra_curl_load(void);

CURL *mitra_curl_easy_init(void);
void mitra_curl_easy_cleanup(CURL *h);
const char *mitra_curl_easy_strerror(CURLcode code);
CURLM *mitra_curl_multi_init(void);
CURLMcode mitra_curl_multi_cleanup(CURLM *m);
CURLMcode mitra_curl_multi_add_handle(CURLM *m, CURL *h);
CURLMcode mitra_curl_multi_remove_handle(CURLM *m, CURL *h);
CURLMcode mitra_curl_multi_perform(CURLM *m, int *running);
CURLMcode mitra_curl_multi_poll(CURLM *m, int timeout_ms);
CURLMcode mitra_curl_multi_wakeup(CURLM *m);
const char *mitra_curl_multi_strerror(CURLMcode code);
struct curl_slist *mitra_curl_slist_append(struct curl_slist *list, const char *text);
void mitra_curl_slist_free_all(struct curl_slist *list);

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift
   cannot call; these typed functions fix the argument type per option kind. */
CURLcode mitra_curl_easy_setopt_long(CURL *h, CURLoption o, long v);
CURLcode mitra_curl_easy_setopt_string(CURL *h, CURLoption o, const char *v);
CURLcode mitra_curl_easy_setopt_pointer(CURL *h, CURLoption o, void *v);
CURLcode mitra_curl_easy_setopt_off_t(CURL *h, CURLoption o, curl_off_t v);
CURLcode mitra_curl_easy_setopt_write_callback(CURL *h, size_t (*cb)(char *, size_t, size_t, void *));
CURLcode mitra_curl_easy_setopt_header_callback(CURL *h, size_t (*cb)(char *, size_t, size_t, void *));
CURLcode mitra_curl_easy_getinfo_long(CURL *h, CURLINFO i, long *v);
CURLcode mitra_curl_easy_getinfo_off_t(CURL *h, CURLINFO i, curl_off_t *v);
CURLcode mitra_curl_easy_getinfo_string(CURL *h, CURLINFO i, char **v);

/* Reads the next finished transfer from the multi handle; returns 0 when there is none.
   Hides the CURLMsg union from Swift. */
int mitra_curl_multi_next_done(CURLM *m, CURL **easy, CURLcode *result);

/* TLS details of the transfer's current connection: the negotiated protocol version (a
   static string owned by OpenSSL) and the earliest notAfter of the certificates the peer
   sent, in seconds since the epoch (0 when unknown). Returns 0 when the connection is not
   TLS. Call while the connection is alive (from the header callback). */
int mitra_curl_tls_info(CURL *h, const char **version, long long *earliest_expiry);

/// Names the calling thread (at most 15 bytes show), for `top -H` and debuggers.
void mitra_set_current_thread_name(const char *name);

#endif

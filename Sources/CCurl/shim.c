#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "CCurl.h"

/* The libcurl functions the exporter uses, resolved from the loaded library. */
static struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_cleanup)(CURLM *);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_perform)(CURLM *, int *);
    CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int, int *);
    CURLMcode (*multi_wakeup)(CURLM *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    const char *(*multi_strerror)(CURLMcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} api;

/* The soname of libcurl 7.16 and later (Debian's libcurl4, the OpenSSL build). */
static const char library[] = "libcurl.so.4";
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const char *load_problem;
static char load_message[512];

static int resolve(void *handle, void **slot, const char *name) {
    *slot = dlsym(handle, name);
    if (*slot != NULL) return 1;
    snprintf(load_message, sizeof load_message, "%s has no %s (libcurl 7.68 or later is needed)", library, name);
    load_problem = load_message;
    return 0;
}

static void load(void) {
    void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *detail = dlerror();
        snprintf(load_message, sizeof load_message, "cannot load %s, which HTTP checks need: %s", library, detail ? detail : "unknown error");
        load_problem = load_message;
        return;
    }
#define RESOLVE(field, name) if (!resolve(handle, (void **)&api.field, name)) return;
    RESOLVE(global_init, "curl_global_init")
    RESOLVE(easy_init, "curl_easy_init")
    RESOLVE(easy_cleanup, "curl_easy_cleanup")
    RESOLVE(easy_setopt, "curl_easy_setopt")
    RESOLVE(easy_getinfo, "curl_easy_getinfo")
    RESOLVE(easy_strerror, "curl_easy_strerror")
    RESOLVE(multi_init, "curl_multi_init")
    RESOLVE(multi_cleanup, "curl_multi_cleanup")
    RESOLVE(multi_add_handle, "curl_multi_add_handle")
    RESOLVE(multi_remove_handle, "curl_multi_remove_handle")
    RESOLVE(multi_perform, "curl_multi_perform")
    RESOLVE(multi_poll, "curl_multi_poll")
    RESOLVE(multi_wakeup, "curl_multi_wakeup")
    RESOLVE(multi_info_read, "curl_multi_info_read")
    RESOLVE(multi_strerror, "curl_multi_strerror")
    RESOLVE(slist_append, "curl_slist_append")
    RESOLVE(slist_free_all, "curl_slist_free_all")
#undef RESOLVE
    CURLcode code = api.global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) {
        snprintf(load_message, sizeof load_message, "curl_global_init failed: %s", api.easy_strerror(code));
        load_problem = load_message;
    }
}

const char *mitra_curl_load(void) {
    pthread_once(&load_once, load);
    return load_problem;
}

/* The functions below are called only after mitra_curl_load succeeded (the engine checks). */
CURL *mitra_curl_easy_init(void) { return api.easy_init(); }
void mitra_curl_easy_cleanup(CURL *h) { api.easy_cleanup(h); }
const char *mitra_curl_easy_strerror(CURLcode code) { return api.easy_strerror(code); }
CURLM *mitra_curl_multi_init(void) { return api.multi_init(); }
CURLMcode mitra_curl_multi_cleanup(CURLM *m) { return api.multi_cleanup(m); }
CURLMcode mitra_curl_multi_add_handle(CURLM *m, CURL *h) { return api.multi_add_handle(m, h); }
CURLMcode mitra_curl_multi_remove_handle(CURLM *m, CURL *h) { return api.multi_remove_handle(m, h); }
CURLMcode mitra_curl_multi_perform(CURLM *m, int *running) { return api.multi_perform(m, running); }
CURLMcode mitra_curl_multi_poll(CURLM *m, int timeout_ms) { return api.multi_poll(m, NULL, 0, timeout_ms, NULL); }
CURLMcode mitra_curl_multi_wakeup(CURLM *m) { return api.multi_wakeup(m); }
const char *mitra_curl_multi_strerror(CURLMcode code) { return api.multi_strerror(code); }
struct curl_slist *mitra_curl_slist_append(struct curl_slist *list, const char *text) { return api.slist_append(list, text); }
void mitra_curl_slist_free_all(struct curl_slist *list) {
    if (list != NULL) api.slist_free_all(list);
}

CURLcode mitra_curl_easy_setopt_long(CURL *h, CURLoption o, long v) { return api.easy_setopt(h, o, v); }
CURLcode mitra_curl_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return api.easy_setopt(h, o, v); }
CURLcode mitra_curl_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return api.easy_setopt(h, o, v); }
CURLcode mitra_curl_easy_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { return api.easy_setopt(h, o, v); }
CURLcode mitra_curl_easy_setopt_write_callback(CURL *h, size_t (*cb)(char *, size_t, size_t, void *)) { return api.easy_setopt(h, CURLOPT_WRITEFUNCTION, cb); }
CURLcode mitra_curl_easy_setopt_header_callback(CURL *h, size_t (*cb)(char *, size_t, size_t, void *)) { return api.easy_setopt(h, CURLOPT_HEADERFUNCTION, cb); }
CURLcode mitra_curl_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return api.easy_getinfo(h, i, v); }
CURLcode mitra_curl_easy_getinfo_off_t(CURL *h, CURLINFO i, curl_off_t *v) { return api.easy_getinfo(h, i, v); }
CURLcode mitra_curl_easy_getinfo_string(CURL *h, CURLINFO i, char **v) { return api.easy_getinfo(h, i, v); }

int mitra_curl_multi_next_done(CURLM *m, CURL **easy, CURLcode *result) {
    int queued = 0;
    CURLMsg *msg;
    while ((msg = api.multi_info_read(m, &queued)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            *easy = msg->easy_handle;
            *result = msg->data.result;
            return 1;
        }
    }
    return 0;
}

void mitra_set_current_thread_name(const char *name) {
    char truncated[16];
    snprintf(truncated, sizeof truncated, "%s", name);
    pthread_setname_np(pthread_self(), truncated);
}

int mitra_curl_tls_info(CURL *h, const char **version, long long *earliest_expiry) {
    struct curl_tlssessioninfo *info = NULL;
    *version = NULL;
    *earliest_expiry = 0;
    if (api.easy_getinfo(h, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == NULL) return 0;
    if (info->backend != CURLSSLBACKEND_OPENSSL || info->internals == NULL) return 0;
    SSL *ssl = (SSL *)info->internals;
    *version = SSL_get_version(ssl);
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    int count = chain ? sk_X509_num(chain) : 0;
    long long earliest = 0;
    for (int i = 0; i < count; i++) {
        const ASN1_TIME *not_after = X509_get0_notAfter(sk_X509_value(chain, i));
        struct tm tm;
        if (not_after == NULL || !ASN1_TIME_to_tm(not_after, &tm)) continue;
        long long seconds = (long long)timegm(&tm);
        if (earliest == 0 || seconds < earliest) earliest = seconds;
    }
    *earliest_expiry = earliest;
    return 1;
}

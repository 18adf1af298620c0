/* The least libcurl costs a process that probes HTTP the way mitra-exporter's engine does:
 * libcurl.so.4 loaded with dlopen when the first transfer is due (the exporter loads it on its
 * first HTTP check), one multi handle, one easy handle per transfer with the exporter's
 * options, cleaned up as soon as the transfer ends.
 *
 *   libcurl_client URL [TRANSFERS (1000)] [IN_FLIGHT (100)]
 *
 * Prints one JSON line: VmRSS and RssAnon (KiB, from /proc/self/status) at start, once
 * libcurl is loaded and initialised, after the transfers (the multi handle still open, as in
 * the exporter), and after malloc_trim (the exporter hands freed heap back every few seconds);
 * and how many transfers failed. Exits 1 when any did: a floor measured over failed transfers
 * would be too low.
 *
 * Built with -DWITH_LIBPQ and -lpq, libpq and the libraries it needs (OpenSSL, the LDAP and
 * Kerberos chains) are mapped from the start, as they are in the exporter, which links libpq:
 * then "loaded" counts only what libcurl brings on top of them. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef WITH_LIBPQ
#include <libpq-fe.h>
#endif

/* The transfer bound, the check timeout of the HTTP benchmark (bench/http/run.sh). */
static const long timeout_ms = 5000;

static struct {
    CURLcode (*global_init)(long);
    char *(*version)(void);
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
    CURLMsg *(*multi_info_read)(CURLM *, int *);
} api;

struct memory {
    long vmrss, rssanon;
};

static struct memory memory_now(void) {
    struct memory m = {-1, -1};
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    if (status == NULL) return m;
    while (fgets(line, sizeof line, status) != NULL) {
        sscanf(line, "VmRSS: %ld", &m.vmrss);
        sscanf(line, "RssAnon: %ld", &m.rssanon);
    }
    fclose(status);
    return m;
}

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "libcurl_client: %s: %s\n", what, detail ? detail : "unknown error");
    exit(1);
}

static void load(void) {
    void *handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) fail("cannot load libcurl.so.4", dlerror());
#define RESOLVE(field, name) if ((*(void **)&api.field = dlsym(handle, name)) == NULL) fail("libcurl.so.4 lacks", name);
    RESOLVE(global_init, "curl_global_init")
    RESOLVE(version, "curl_version")
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
    RESOLVE(multi_info_read, "curl_multi_info_read")
#undef RESOLVE
    CURLcode code = api.global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) fail("curl_global_init", api.easy_strerror(code));
}

static size_t discard(char *data, size_t size, size_t count, void *user) {
    (void)data;
    (void)user;
    return size * count;
}

/* One easy handle with the options the exporter sets for a plain GET check. */
static CURL *transfer(const char *url) {
    CURL *easy = api.easy_init();
    if (easy == NULL) fail("curl_easy_init", NULL);
    api.easy_setopt(easy, CURLOPT_URL, url);
    api.easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    api.easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    api.easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    api.easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    api.easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    api.easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
    api.easy_setopt(easy, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    api.easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, 16L * 1024);
    api.easy_setopt(easy, CURLOPT_USERAGENT, "libcurl_client");
    api.easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
    api.easy_setopt(easy, CURLOPT_HEADERFUNCTION, discard);
    return easy;
}

static void print_memory(const char *name, struct memory m) {
    printf("\"%s\": {\"vmrss_kib\": %ld, \"rssanon_kib\": %ld}, ", name, m.vmrss, m.rssanon);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s URL [TRANSFERS] [IN_FLIGHT]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    int total = argc > 2 ? atoi(argv[2]) : 1000;
    int in_flight = argc > 3 ? atoi(argv[3]) : 100;
    if (total < 1 || in_flight < 1) {
        fprintf(stderr, "libcurl_client: TRANSFERS and IN_FLIGHT must be positive\n");
        return 2;
    }

    struct memory start = memory_now();
    load();
    CURLM *multi = api.multi_init();
    if (multi == NULL) fail("curl_multi_init", NULL);
    struct memory loaded = memory_now();

    int started = 0, finished = 0, failed = 0, running = 0;
    while (finished < total) {
        for (; started < total && started - finished < in_flight; started++) {
            CURLMcode code = api.multi_add_handle(multi, transfer(url));
            if (code != CURLM_OK) fail("curl_multi_add_handle", "refused a handle");
        }
        if (api.multi_perform(multi, &running) != CURLM_OK) fail("curl_multi_perform", NULL);
        CURLMsg *message;
        int queued;
        while ((message = api.multi_info_read(multi, &queued)) != NULL) {
            if (message->msg != CURLMSG_DONE) continue;
            CURL *easy = message->easy_handle;
            CURLcode result = message->data.result;
            long status = 0;
            api.easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
            if (result != CURLE_OK || status < 200 || status > 299) {
                if (failed == 0) fprintf(stderr, "libcurl_client: %s: %s, HTTP %ld\n", url, api.easy_strerror(result), status);
                failed++;
            }
            api.multi_remove_handle(multi, easy);
            api.easy_cleanup(easy);
            finished++;
        }
        /* Every transfer ends within timeout_ms, so this wait is bounded. */
        if (running > 0 && api.multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK) fail("curl_multi_poll", NULL);
    }
    struct memory after = memory_now();
    malloc_trim(0);
    struct memory trimmed = memory_now();

    printf("{\"transfers\": %d, \"in_flight\": %d, \"failed\": %d, \"timeout_ms\": %ld, ", total, in_flight, failed, timeout_ms);
    print_memory("start", start);
    print_memory("loaded", loaded);
    print_memory("after", after);
    print_memory("after_trim", trimmed);
#ifdef WITH_LIBPQ
    printf("\"libpq\": %d, ", PQlibVersion());
#endif
    printf("\"curl\": \"%s\"}\n", api.version());
    api.multi_cleanup(multi);
    return failed == 0 ? 0 : 1;
}

#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "CCurl.h"

void mitra_set_current_thread_name(const char *name) {
    char truncated[16];
    snprintf(truncated, sizeof truncated, "%s", name);
    pthread_setname_np(pthread_self(), truncated);
}

int mitra_curl_tls_info(CURL *h, const char **version, long long *earliest_expiry) {
    struct curl_tlssessioninfo *info = NULL;
    *version = NULL;
    *earliest_expiry = 0;
    if (curl_easy_getinfo(h, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == NULL) return 0;
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

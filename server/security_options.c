/* security_options.c — parsing -Z, -Y and -o ssl_* (security_options.h).  Values are checked
 * here; whether the files can be read is found out when they are loaded, at start-up. */
#include "security_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void shmcd_security_init(shmcd_security_options *o)
{
    memset(o, 0, sizeof *o);
    o->ssl_keyformat = 1;
    o->ssl_min_version = 2;
    o->ssl_wbuf_size = 16;
}

static bool refuse(const char *key, const char *value, const char *why)
{
    fprintf(stderr, "shmcd: invalid -o %s%s%s: %s (see shmcd -h)\n", key, value ? "=" : "",
            value ? value : "", why);
    return false;
}

static bool small_uint(const char *s, unsigned max, unsigned *out)
{
    if (!s || !*s || s[0] == '-') return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max) return false;
    *out = (unsigned)v;
    return true;
}

/* One key[=value] of -o. */
static bool ssl_option(shmcd_security_options *o, const char *key, const char *value)
{
    const char **path = NULL;
    if (!strcmp(key, "ssl_chain_cert")) path = &o->ssl_chain_cert;
    else if (!strcmp(key, "ssl_key")) path = &o->ssl_key;
    else if (!strcmp(key, "ssl_ca_cert")) path = &o->ssl_ca_cert;
    else if (!strcmp(key, "ssl_ciphers")) path = &o->ssl_ciphers;
    if (path) {
        if (!value || !*value) return refuse(key, value, "needs a value");
        *path = value;
        return true;
    }
    if (!strcmp(key, "ssl_verify_mode")) {
        if (!small_uint(value, 3, &o->ssl_verify_mode))
            return refuse(key, value, "0 (none), 1 (request), 2 (require) or 3 (once)");
    } else if (!strcmp(key, "ssl_keyformat")) {
        if (!small_uint(value, 2, &o->ssl_keyformat) || o->ssl_keyformat == 0)
            return refuse(key, value, "1 (PEM) or 2 (DER)");
    } else if (!strcmp(key, "ssl_min_version")) {
        if (!small_uint(value, 3, &o->ssl_min_version))
            return refuse(key, value, "0 (tlsv1.0), 1 (tlsv1.1), 2 (tlsv1.2) or 3 (tlsv1.3)");
    } else if (!strcmp(key, "ssl_wbuf_size")) {
        if (!small_uint(value, 1u << 20, &o->ssl_wbuf_size) || o->ssl_wbuf_size == 0)
            return refuse(key, value, "a size in kilobytes");
    } else if (!strcmp(key, "ssl_session_cache")) {
        if (value) return refuse(key, value, "takes no value");
        o->ssl_session_cache = true;
    } else if (!strcmp(key, "ssl_kernel_tls")) {
        if (value) return refuse(key, value, "takes no value");
        o->ssl_kernel_tls = true;
    } else {
        return refuse(key, value, "unknown TLS setting");
    }
    return true;
}

static bool extended(shmcd_security_options *o, const char *arg)
{
    if (o->nextended == SHMCD_MAX_EXTENDED) {
        fprintf(stderr, "shmcd: -o given more than %d times\n", SHMCD_MAX_EXTENDED);
        return false;
    }
    char *copy = strdup(arg);
    if (!copy) return false;
    o->extended[o->nextended++] = copy;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (eq) *eq = '\0';
        if (strncmp(item, "ssl_", 4) != 0) continue; /* not ours: ignored, as before */
        if (!ssl_option(o, item, eq ? eq + 1 : NULL)) return false;
    }
    return true;
}

bool shmcd_security_option(shmcd_security_options *o, int flag, const char *arg)
{
    switch (flag) {
    case 'Z':
        o->tls = true;
        return true;
    case 'Y':
        if (!arg || !*arg) {
            fprintf(stderr, "shmcd: invalid -Y '': empty path (see shmcd -h)\n");
            return false;
        }
        o->auth_file = arg;
        return true;
    case 'o':
        return extended(o, arg);
    default:
        return false;
    }
}

bool shmcd_security_check(const shmcd_security_options *o)
{
    if (o->tls && !o->ssl_chain_cert) {
        fprintf(stderr, "shmcd: -Z needs a certificate: -o ssl_chain_cert=FILE[,ssl_key=FILE]\n");
        return false;
    }
    if (o->tls && o->ssl_verify_mode >= 2 && !o->ssl_ca_cert) {
        fprintf(stderr, "shmcd: ssl_verify_mode=%u requires client certificates: give "
                        "-o ssl_ca_cert=FILE\n", o->ssl_verify_mode);
        return false;
    }
    return true;
}

void shmcd_security_free(shmcd_security_options *o)
{
    for (size_t i = 0; i < o->nextended; i++) free(o->extended[i]);
    o->nextended = 0;
}

/* base64.c — RFC 4648 base64 encoding, and decoding as memcached decodes meta keys (base64.h). */
#include "base64.h"

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t proto_base64_encode(const unsigned char *src, size_t n, char *dst)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        dst[o++] = alphabet[v >> 18 & 63];
        dst[o++] = alphabet[v >> 12 & 63];
        dst[o++] = alphabet[v >> 6 & 63];
        dst[o++] = alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)src[i] << 16;
        if (i + 1 < n) v |= (uint32_t)src[i + 1] << 8;
        dst[o++] = alphabet[v >> 18 & 63];
        dst[o++] = alphabet[v >> 12 & 63];
        dst[o++] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
        dst[o++] = '=';
    }
    return o;
}

static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

size_t proto_base64_decode(const char *src, size_t n, unsigned char *dst)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) count += src[i] == '=' || sextet(src[i]) >= 0;
    if (count == 0 || count % 4 != 0) return 0;
    uint32_t v = 0;
    size_t o = 0;
    int k = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        int s6 = src[i] == '=' ? 0 : sextet(src[i]);
        if (s6 < 0) continue; /* outside the alphabet: skipped */
        pad += src[i] == '=';
        v = v << 6 | (uint32_t)s6;
        if (++k < 4) continue;
        dst[o++] = (unsigned char)(v >> 16);
        dst[o++] = (unsigned char)(v >> 8 & 0xff);
        dst[o++] = (unsigned char)(v & 0xff);
        v = 0;
        k = 0;
        if (pad) { /* padding ends the input */
            if (pad > 2) return 0;
            o -= (size_t)pad;
            break;
        }
    }
    return o;
}

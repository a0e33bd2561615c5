/* base64.c — RFC 4648 base64 encoding and strict decoding (base64.h). */
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
    if (n == 0 || n % 4 != 0) return 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int pad = 0;
        if (i + 4 == n) {
            if (src[n - 1] == '=') pad++;
            if (src[n - 2] == '=') pad++;
        }
        if (pad == 1 && src[n - 2] == '=') return 0;
        int s[4];
        for (int k = 0; k < 4 - pad; k++) {
            s[k] = sextet(src[i + k]);
            if (s[k] < 0) return 0;
        }
        for (int k = 4 - pad; k < 4; k++) s[k] = 0;
        uint32_t v = (uint32_t)s[0] << 18 | (uint32_t)s[1] << 12 | (uint32_t)s[2] << 6 |
                     (uint32_t)s[3];
        dst[o++] = (unsigned char)(v >> 16);
        if (pad < 2) dst[o++] = (unsigned char)(v >> 8 & 0xff);
        if (pad < 1) dst[o++] = (unsigned char)(v & 0xff);
    }
    return o;
}

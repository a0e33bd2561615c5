/* number.c — memcached-compatible decimal parsing and fast decimal formatting (number.h). */
#include "number.h"

static bool is_blank(char c)
{
    return c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == ' ';
}

/* Reads [blanks][sign]digits[blank...]: the magnitude into *mag, the sign into *neg.
 * False when no digit, a non-blank byte follows the digits, or the magnitude overflows. */
static bool parse_magnitude(const char *s, size_t n, uint64_t *mag, bool *neg)
{
    size_t i = 0;
    while (i < n && is_blank(s[i])) i++;
    *neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        *neg = s[i] == '-';
        i++;
    }
    size_t first_digit = i;
    uint64_t v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
        i++;
    }
    if (i == first_digit) return false;
    if (i < n && !is_blank(s[i])) return false;
    *mag = v;
    return true;
}

bool proto_parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t mag;
    bool neg;
    if (!parse_magnitude(s, n, &mag, &neg)) return false;
    uint64_t v = neg ? (uint64_t)0 - mag : mag;
    if (neg && (int64_t)v < 0) return false;
    *out = v;
    return true;
}

bool proto_parse_u32(const char *s, size_t n, uint32_t *out)
{
    uint64_t v;
    if (!proto_parse_u64(s, n, &v) || v > UINT32_MAX) return false;
    *out = (uint32_t)v;
    return true;
}

bool proto_parse_i64(const char *s, size_t n, int64_t *out)
{
    uint64_t mag;
    bool neg;
    if (!parse_magnitude(s, n, &mag, &neg)) return false;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1) return false;
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)mag;
    }
    return true;
}

size_t proto_u64_to_text(uint64_t v, char *buf)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    return n;
}

size_t proto_i64_to_text(int64_t v, char *buf)
{
    if (v >= 0) return proto_u64_to_text((uint64_t)v, buf);
    buf[0] = '-';
    return 1 + proto_u64_to_text((uint64_t)0 - (uint64_t)v, buf + 1);
}

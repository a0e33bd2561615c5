/* parse_binary.c — binary-protocol framing (binary.h): the header, and the checks memcached
 * 1.6.18 makes of it before it runs a request (try_read_command_binary and
 * dispatch_bin_command in its proto_bin.c), each answered as memcached answers it. */
#include <string.h>

#include "command.h"

static uint16_t be16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void proto_bin_parse_header(const unsigned char *p, proto_bin_header *h)
{
    h->magic = p[0];
    h->opcode = p[1];
    h->keylen = be16(p + 2);
    h->extlen = p[4];
    h->datatype = p[5];
    h->vbucket = be16(p + 6);
    h->bodylen = be32(p + 8);
    memcpy(&h->opaque, p + 12, 4);
    h->cas = (uint64_t)be32(p + 16) << 32 | be32(p + 20);
}

static bool shape_fits(proto_bin_shape shape, const proto_bin_header *h)
{
    uint32_t ext = h->extlen, key = h->keylen, body = h->bodylen;
    switch (shape) {
    case PROTO_BIN_SHAPE_BARE: return ext == 0 && key == 0 && body == 0;
    case PROTO_BIN_SHAPE_FLUSH: return key == 0 && body == ext && (ext == 0 || ext == 4);
    case PROTO_BIN_SHAPE_STORE: return ext == 8 && key != 0 && body >= key + 8;
    case PROTO_BIN_SHAPE_KEY: return ext == 0 && key > 0 && body == key;
    case PROTO_BIN_SHAPE_ARITH: return ext == 20 && key > 0 && body == key + 20;
    case PROTO_BIN_SHAPE_CONCAT: return ext == 0 && key > 0;
    case PROTO_BIN_SHAPE_STAT: return ext == 0;
    case PROTO_BIN_SHAPE_SASL: return ext == 0 && key != 0;
    case PROTO_BIN_SHAPE_TOUCH: return ext == 4 && key != 0;
    }
    return false;
}

proto_bin_frame proto_bin_check(const proto_bin_header *h)
{
    if (h->magic != PROTO_BIN_REQ) return PROTO_BIN_FRAME_BAD_MAGIC;
    if ((uint32_t)h->keylen + h->extlen > h->bodylen) return PROTO_BIN_FRAME_SHORT_BODY;
    if (h->keylen > PROTO_KEY_MAX) return PROTO_BIN_FRAME_KEY_TOO_LONG;
    const proto_bin_command *command = proto_bin_command_of(h->opcode);
    if (!command) return PROTO_BIN_FRAME_UNKNOWN;
    return shape_fits(command->shape, h) ? PROTO_BIN_FRAME_OK : PROTO_BIN_FRAME_BAD_LENGTHS;
}

bool proto_bin_has_value(uint8_t opcode)
{
    const proto_bin_command *command = proto_bin_command_of(opcode);
    return command && (command->shape == PROTO_BIN_SHAPE_STORE ||
                       command->shape == PROTO_BIN_SHAPE_CONCAT ||
                       command->shape == PROTO_BIN_SHAPE_SASL);
}

/* fuzz_protocol.c — libFuzzer target for the protocol layer: any byte stream is framed
 * (protocol/frame.h) and parsed (request.h) the way a connection does it, including long
 * multi-get prefixes and streamed key lists, and every parsed request is then executed
 * against a small real cache (exec.h), so parser, executor and reply encoding all meet
 * hostile input.  A stream whose first byte is 0x80 is the binary protocol (binary.h), as a
 * connection negotiates it.  Built and run by run.sh with -fsanitize=fuzzer,address,undefined. */
#include <shmc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/binary.h"
#include "protocol/env.h"
#include "protocol/exec.h"
#include "protocol/frame.h"
#include "protocol/request.h"

static proto_env env;
static bool ready;

static void setup(void)
{
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/shmc-fuzz-%d", (int)getpid());
    unlink(path);
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 2u << 20;
    cfg.item_size_max = 64u << 10;
    shmc_t *cache = NULL;
    if (shmc_open(&cache, path, &cfg) != SHMC_OK) abort();
    unlink(path); /* the mapping stays; nothing is left behind */
    if (proto_env_init(&env, cache, NULL) != SHMC_OK) abort();
    env.out_high_water = 4096; /* exercise pausing too */
    ready = true;
}

static void execute(proto_request *req, const char *data, proto_out *out)
{
    proto_status st = proto_execute(&env, req, data, out);
    for (int i = 0; st == PROTO_PAUSED && i < 100000; i++) {
        proto_out_consumed(out, proto_out_pending(out));
        st = proto_resume(&env, req, out);
    }
    proto_out_consumed(out, proto_out_pending(out));
}

/* The binary protocol: requests run as the server runs them until one needs more input or
 * closes the connection. */
static void binary(const char *in, size_t size)
{
    proto_out out = {0};
    proto_bin_session s = {0};
    size_t pos = 0;
    for (;;) {
        size_t used, need;
        proto_status st = proto_bin_execute(&env, &s, in + pos, size - pos, &used, &need, &out);
        proto_out_consumed(&out, proto_out_pending(&out));
        if (st == PROTO_CLOSE || used == 0) break;
        pos += used;
    }
    proto_out_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) setup();
    if (size > 0 && data[0] == 0x80) {
        binary((const char *)data, size);
        return 0;
    }
    const char *in = (const char *)data;
    proto_out out = {0};
    proto_request *req = malloc(sizeof *req);
    size_t pos = 0;
    while (pos < size) {
        size_t line, consumed;
        proto_frame f = proto_frame_line(in + pos, size - pos, &line, &consumed);
        if (f == PROTO_FRAME_NEED_MORE || f == PROTO_FRAME_TOO_LONG) break;
        if (f == PROTO_FRAME_LONG_GET) {
            size_t off;
            if (!proto_parse_get_prefix(in + pos, size - pos, req, &off)) break;
            /* stream the keys in whole-key chunks, as the server does */
            const char *keys = in + pos + off;
            size_t whole = proto_whole_keys_len(keys, size - pos - off);
            req->keys = keys;
            req->keys_len = whole;
            req->key_pos = 0;
            req->partial = true;
            execute(req, NULL, &out);
            break;
        }
        proto_parse(in + pos, line, req);
        size_t used = consumed;
        const char *value = NULL;
        if (req->has_value && !proto_value_refused(&env, req)) {
            if (size - pos - consumed < req->vlen + 2) break;
            value = in + pos + consumed;
            used += req->vlen + 2;
        }
        execute(req, value, &out);
        if (req->has_value && proto_value_refused(&env, req)) {
            if (size - pos - consumed < req->vlen + 2) break;
            used += req->vlen + 2;
        }
        pos += used;
    }
    free(req);
    proto_out_free(&out);
    return 0;
}

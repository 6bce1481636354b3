/* SPDX-License-Identifier: MIT */
/* stream_until.c — the separator searches: readline, readuntil,
 * readuntil_any (asyncio's StreamReader.readuntil and readline).
 *
 * The limit bounds the bytes before the separator, as asyncio's does: a
 * limit of 7 takes "1234567\n" and refuses "12345678\n".  While no
 * separator is found, the bytes that cannot be the start of one (all but
 * the last longest-separator-minus-one) are not searched again. */
#include "stream_internal.h"

#include "weft/status.h"

#include <string.h>

typedef struct separators {
    const void *const *items;
    const size_t *lengths;
    size_t count, shortest, longest;
} separators;

/* Where sep first starts in data[from, size): its index, or size. */
static size_t find(const char *data, size_t size, size_t from, const char *sep, size_t seplen)
{
    while (from + seplen <= size) {
        const char *hit = memchr(data + from, sep[0], size - from - seplen + 1);
        if (!hit)
            break;
        size_t at = (size_t)(hit - data);
        if (memcmp(hit, sep, seplen) == 0)
            return at;
        from = at + 1;
    }
    return size;
}

/* The match of any separator in data[from, size) that ends first:
 * true with *start and *end. */
static bool find_earliest(const char *data, size_t size, size_t from, const separators *seps,
                          size_t *start, size_t *end)
{
    bool found = false;
    for (size_t i = 0; i < seps->count; i++) {
        size_t len = seps->lengths[i];
        size_t at = find(data, size, from, seps->items[i], len);
        if (at < size && (!found || at + len < *end)) {
            found = true;
            *start = at;
            *end = at + len;
        }
    }
    return found;
}

/* asyncio's readuntil: WEFT_OK with the view; WEFT_EINCOMPLETE at end of
 * file (the view: all that was buffered, taken); WEFT_ELIMIT with *len
 * how many bytes were looked at (nothing taken); or fill's failures. */
static int read_until(weft_stream *s, const separators *seps, const char **data, size_t *len,
                      double timeout)
{
    int64_t deadline;
    size_t offset = 0, start, end;
    int rc = weft__stream_read_deadline(s, timeout, &deadline);
    while (rc == WEFT_OK && !s->read_failure) {
        const char *b = s->in.data ? s->in.data + s->in.start : "";
        size_t size = s->in.end - s->in.start;
        if (size - offset >= seps->shortest) {
            if (find_earliest(b, size, offset, seps, &start, &end)) {
                *len = start > s->limit ? start : end;
                if (start > s->limit)
                    return WEFT_ELIMIT;
                *data = b;
                s->in.start += end;
                return WEFT_OK;
            }
            offset = size + 1 > seps->longest ? size + 1 - seps->longest : 0;
            if (offset > s->limit) {
                *len = offset;
                return WEFT_ELIMIT;
            }
        }
        if (s->eof) {
            *data = b;
            *len = size;
            s->in.start = s->in.end;
            return WEFT_EINCOMPLETE;
        }
        rc = weft__stream_fill(s, deadline);
    }
    return rc != WEFT_OK ? rc : s->read_failure;
}

/* Check the separators and measure them: WEFT_OK or WEFT_EINVAL. */
static int measure(separators *seps)
{
    if (!seps->items || !seps->lengths || seps->count == 0)
        return WEFT_EINVAL;
    seps->shortest = SIZE_MAX;
    seps->longest = 0;
    for (size_t i = 0; i < seps->count; i++) {
        size_t len = seps->lengths[i];
        if (!seps->items[i] || len == 0)
            return WEFT_EINVAL;
        seps->shortest = len < seps->shortest ? len : seps->shortest;
        seps->longest = len > seps->longest ? len : seps->longest;
    }
    return WEFT_OK;
}

int weft_stream_readuntil_any(weft_stream *stream, const void *const *separators_,
                              const size_t *seplens, size_t count, const char **data,
                              size_t *len, double timeout)
{
    separators seps = {separators_, seplens, count, 0, 0};
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!stream || !data || !len || measure(&seps) != WEFT_OK)
        return WEFT_EINVAL;
    return read_until(stream, &seps, data, len, timeout);
}

int weft_stream_readuntil(weft_stream *stream, const void *separator, size_t seplen,
                          const char **data, size_t *len, double timeout)
{
    const void *items[1] = {separator};
    return weft_stream_readuntil_any(stream, items, &seplen, 1, data, len, timeout);
}

int weft_stream_readline(weft_stream *stream, const char **line, size_t *len, double timeout)
{
    static const char newline = '\n';
    const void *items[1] = {&newline};
    const size_t lengths[1] = {1};
    separators seps = {items, lengths, 1, 1, 1};
    if (line)
        *line = NULL;
    if (len)
        *len = 0;
    if (!stream || !line || !len)
        return WEFT_EINVAL;
    int rc = read_until(stream, &seps, line, len, timeout);
    if (rc == WEFT_EINCOMPLETE)
        return WEFT_OK; /* the last, partial line; then nothing */
    if (rc == WEFT_ELIMIT) {
        /* Discard the long line: through its '\n' if one was found,
         * else all that is buffered. */
        size_t seen = *len;
        weft_stream_buffer *b = &stream->in;
        bool newline_there = seen < b->end - b->start && b->data[b->start + seen] == '\n';
        b->start = newline_there ? b->start + seen + 1 : b->end;
        *len = 0;
    }
    return rc;
}

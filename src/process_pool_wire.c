/* SPDX-License-Identifier: MIT */
/* process_pool_wire.c — sending and reading the process pool's messages
 * (process_pool_wire.h). */
#include "process_pool_wire.h"

#include "platform/process.h"
#include "weft/status.h"

int weft__ppool_send_message(int channel, const void *msg, size_t size, const void *data,
                            size_t data_size)
{
    unsigned char tag = TAG_MESSAGE;
    int rc = weft__pf_send_all(channel, &tag, 1);
    if (rc == WEFT_OK)
        rc = weft__pf_send_all(channel, msg, size);
    if (rc == WEFT_OK && data_size)
        rc = weft__pf_send_all(channel, data, data_size);
    return rc;
}

void weft__ppool_announce(_Atomic uint32_t *seq, _Atomic uint32_t *peer_spinning, int channel)
{
    atomic_fetch_add(seq, 1); /* seq_cst both: then look for a spinner */
    if (!atomic_load(peer_spinning))
        weft__pf_send_byte_nowait(channel, TAG_DOORBELL);
}

int weft__ppool_read_tag(int channel, unsigned char *tag)
{
    return weft__pf_recv_all(channel, tag, 1);
}

bool weft__ppool_fails_over_cap(size_t max_memory, int code)
{
    return max_memory && code == WEFT_ENOMEM;
}

/*
 * lt_hop: hop records, the trace a relay leaves on a document it carries
 * from one platform to the next (docs/WIRE.md section 8).
 *
 * A hop (Hop in proto/lienthong.proto) names the relay (the CN of its
 * certificate), the platforms it came from and goes to, and the time the
 * relay took the document over, signed by the relay over
 * "lienthong-hop-v1\n" || the document's digest (SHA-256 of its canonical
 * bytes) || those fields. The relay's certificate must chain to ca_file and
 * carry the relay purpose LT_PKI_RELAY_OID; an agency's cannot sign hops.
 *
 * The hop travels twice: appended to the document's record (Envelope field
 * 6, outside the canonical bytes, so the sender's signature and bytes stay
 * untouched), and in a hop notice back to the sender: a Receipt with status
 * RECEIPT_HOP carrying the document id, sender, recipient, digest and the
 * hop (field 13), unsigned itself. The sender records a notice in the
 * document's history ("at NGSP since T") only when the hop verifies and the
 * digest is the one of the document it sent to that recipient; a notice
 * never changes a status.
 *
 * Ownership: returned buffers are malloc'd, the caller frees. Thread-safe.
 */
#ifndef LT_HOP_H
#define LT_HOP_H

#include <stddef.h>
#include <stdint.h>

#include "../errors/lt_err.h"
#include "../proto/lt_sign.h"
#include "lienthong.pb-c.h"

struct lt_hop_in {
	const char *from_platform;
	const char *to_platform;
	int64_t at_ms;
};

/*
 * For a document record (an envelope with a header; value of len bytes)
 * carried by relay: *rec is the record with the relay's hop appended, and
 * *notice the hop notice for its sender about recipient. The digest is
 * computed from the declared part sizes and SHA-256 (the relay cannot read
 * encrypted parts); *digest_out receives it.
 */
int lt_hop_make(const Lienthong__Envelope *env, const uint8_t *value, size_t len,
                const char *recipient, const struct lt_hop_in *in, const struct lt_signer *relay,
                uint8_t **rec, size_t *rec_len, uint8_t **notice, size_t *notice_len, lt_err *err);

/* Verifies a hop over digest; its relay's CN must be hop->relay. */
int lt_hop_verify(const Lienthong__Hop *hop, const uint8_t digest[32], const struct lt_trust *trust,
                  lt_err *err);

#endif

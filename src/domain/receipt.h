// Canonical bytes and server signatures of receipts and verification results
// (docs/receipt-format.md). The public checks are evrepl_receipt_verify_signature() and
// evrepl_verification_verify_signature() in include/evrepl/types.h.
//
// Thread safety: pure apart from the caller's structs.
#ifndef EVREPL_DOMAIN_RECEIPT_H
#define EVREPL_DOMAIN_RECEIPT_H

#include "domain/canon.h"
#include "domain/keys.h"
#include "evrepl/types.h"

#define EVRI_RECEIPT_TAG      "evrepl.receipt.v1"
#define EVRI_VERIFICATION_TAG "evrepl.verification.v1"

// Appends the canonical bytes: every field but the signature, signer_key_id included.
void evri_receipt_canonical(const evrepl_receipt *r, evri_canon *c);
void evri_verification_canonical(const evrepl_verification *v, evri_canon *c);

// Sets signer_key_id, then signs the canonical bytes into signature. INTERNAL when memory
// runs out (the struct is left unsigned).
EVREPL_NODISCARD evrepl_code evri_receipt_sign(evrepl_receipt *r, const evri_signer *s,
                                               evrepl_status *st);
EVREPL_NODISCARD evrepl_code evri_verification_sign(evrepl_verification *v, const evri_signer *s,
                                                    evrepl_status *st);

#endif // EVREPL_DOMAIN_RECEIPT_H

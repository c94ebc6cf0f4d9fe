// Package mailauth authenticates mail: it signs outgoing messages with DKIM
// and verifies the DKIM signatures of incoming ones. SPF, DMARC and
// Authentication-Results will join it; the package stays pure (no storage,
// no network of its own — DNS is passed in).
//
// DKIM follows RFC 6376 (DomainKeys Identified Mail Signatures) with the
// Ed25519 algorithm of RFC 8463 (ed25519-sha256) next to rsa-sha256, and the
// algorithm floor of RFC 8301 (no rsa-sha1, RSA keys of 1024 bits or more).
// The cryptography and canonicalization (RFC 6376 section 3.4) are those of
// github.com/emersion/go-msgauth/dkim; this package chooses what is signed:
//
//   - relaxed/relaxed canonicalization (RFC 6376 section 3.4.2, 3.4.4);
//   - no l= tag: the whole body is always signed (RFC 6376 section 8.2);
//   - the header fields of RFC 6376 section 5.4.1 that change what a
//     reader sees (From, To, Cc, Subject, Date, Message-ID, Reply-To,
//     In-Reply-To, References, MIME-Version, Content-Type,
//     Content-Transfer-Encoding, List-Unsubscribe, List-Unsubscribe-Post),
//     each listed once more than it occurs, an absent one once
//     ("oversigning", section 5.4.2 and 8.15), so that an instance added
//     in transit, above the signed one or below it or where there was
//     none, breaks the signature;
//   - one DKIM-Signature per key, prepended (section 5.6).
//
// Verify checks every signature (section 6) with an injected TXT lookup
// (section 3.6.2.2) and reports one Result per signature.
package mailauth

// Package events is the pure core of Postern's SendGrid-compatible event
// webhooks: the event JSON a webhook receiver gets, the mapping from the
// events Postern records (store.Event) to it, and the signer of SendGrid's
// Signed Event Webhook. It neither stores nor sends anything: the outbox,
// its dispatcher and the settings endpoints live elsewhere and call it.
//
// # What it implements
//
//   - SendGrid's event webhook payload (the Event Webhook reference;
//     ../shared/sendgrid-api/tsg_webhooks_v3.json for the settings): a
//     POST body is a JSON array of event objects ([MarshalBatch]). Each
//     object carries email, timestamp (Unix seconds), event, sg_event_id,
//     sg_message_id, smtp-id, category (a string for one category, an
//     array for several, as SendGrid sends it), asm_group_id, and per
//     type reason, status, response, attempt, type (bounce or blocked),
//     tls and ip. The message's custom_args (unique_args in X-SMTPAPI)
//     are flattened into the top-level object; a custom argument never
//     overrides a key of SendGrid's own ([Event.MarshalJSON]).
//   - SendGrid's Signed Event Webhook: ECDSA with P-256 over SHA-256 of
//     the timestamp header's bytes followed by the raw body; the
//     signature is the base64 (standard, padded) of its ASN.1 DER
//     encoding, sent in [SignatureHeader], with the timestamp (Unix
//     seconds, decimal) in [TimestampHeader]; the public key a receiver
//     configures is the base64 of its PKIX DER encoding
//     ([Signer.PublicKeyBase64]). SendGrid's own verifiers
//     (sendgrid-go's helpers/eventwebhook, npm @sendgrid/eventwebhook)
//     verify what [Signer.Sign] produces, unmodified; the tests run both.
//   - The private key is stored as PKCS#8 DER (RFC 5208, RFC 5915 inside)
//     by [MarshalKey] and read back, strictly, by [ParseKey].
//
// # Postern's events as SendGrid's
//
// [FromStore] maps one recorded event to webhook events; see its
// comment for which Postern state becomes which SendGrid event.
package events

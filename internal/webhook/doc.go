// Package webhook is the event webhook dispatcher: it takes the events
// waiting in the store's outbox (written in the transaction that recorded
// each event, store.WebhookStore) and POSTs them to their webhooks'
// receivers as SendGrid's Event Webhook does, signed like its Signed
// Event Webhook when the webhook is signed. The payload and the signature
// are internal/events'; this package claims, sends, retries and gives up.
//
// # Delivery
//
// At least once, never lost by a crash (DESIGN.md, "Events"). Run claims
// due items with a lease (ClaimOutbox: SKIP LOCKED on PostgreSQL, so
// several nodes dispatch at once, each its own items), groups them by
// webhook and POSTs each webhook's items in batches of up to BatchSize
// events, at most Concurrency webhooks at once. A batch the receiver
// answers 2xx is removed from the outbox; anything else (another status,
// a connection or TLS failure, a timeout) is retried. An item is retried
// until it is RetryFor old (at least a day; 72 hours by default), then
// discarded with "gave up after …" on the webhook's record. A node that
// dies mid-POST leaves its items leased; they are due again when the
// lease ends, and the receiver may then get a batch twice: receivers
// deduplicate on sg_event_id, which is stable for a stored event.
//
// A batch is POSTed only while its claim's lease has a whole request
// timeout left, so that no item is sent while another node may have
// claimed it. After a failed batch the webhook's other batches of the
// round are not tried: they are counted as failed with the same error,
// so a receiver that is down costs one timeout per round, not one per
// batch.
//
// Retries back off from 30 seconds, doubling up to an hour, with up to
// 10% jitter ([backoff]). The error recorded on the webhook is short and
// safe to show its owner: "HTTP 503", "connect: connection refused",
// "timeout", never a response body, a URL's path or query (which may
// hold a token), or Go's error text.
//
// Items the webhook no longer wants are discarded, with the reason on its
// record: all of a disabled webhook's (a disabled webhook gets nothing,
// and the store puts no new events in its outbox either), and those of
// event types it no longer selects. A deleted webhook's outbox goes with
// it (DeleteWebhook).
//
// # The rendered events
//
// Each stored event becomes SendGrid events by events.FromStore, with
// the message's categories, custom arguments and ASM group (its Meta;
// each message is read once per round). A message whose record is gone
// gives events without them. Left out: smtp-id (the store keeps no
// Message-ID apart from the body, which is not parsed per event), ip and
// a deferral's attempt. An event that cannot be rendered (an event type
// this node does not know, as during a rolling upgrade, or Meta that is
// not compose.Meta's JSON) is retried like a failed POST, and given up
// on the same way.
//
// # The HTTP client
//
// Every POST carries Content-Type application/json and a User-Agent
// naming Postern; a signed webhook's adds events.SignatureHeader and
// events.TimestampHeader over the exact body. Both http and https URLs
// are allowed, as SendGrid allows them; https is verified against the
// system's roots (TLS 1.2 at least). Timeouts: 10 seconds to connect,
// 10 for the TLS handshake, Timeout (30 seconds) for the whole request.
// Redirects are not followed: a 3xx is a failure that says so. At most
// 4 KiB of a response body is read, then it is thrown away; response
// headers are bounded to 16 KiB. Proxies from the environment are not
// used.
//
// Which addresses it connects to follows internal/netguard, the rule
// delivery follows for MX hosts: a webhook's URL is its owner's to write,
// and must not aim Postern at its own network. Unless
// webhooks.allow_private_networks is on, the dialer resolves the host
// itself, refuses every address netguard.Private names (loopback,
// RFC 1918, link-local, …) before connecting, and connects to the checked
// IP literal, so that no second resolution can change the answer (DNS
// rebinding).
//
// # Settings
//
// [ValidateURL] is the check the settings API applies to a URL, and
// [Dispatcher.SendTest] the test POST it sends (admin.WebhookTester).
package webhook

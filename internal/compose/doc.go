// Package compose turns the JSON body of SendGrid's POST /v3/mail/send into
// RFC 5322 messages, one per personalization, and parses SendGrid's
// X-SMTPAPI header into the same metadata ([Meta]). It is pure: the time
// and the randomness for MIME boundaries come from [Options], and it
// neither stores nor sends anything. [Decode] checks the JSON, [Build]
// checks the content and composes; both report every problem at once as a
// *[Errors], SendGrid's error shape, with client-safe messages and
// SendGrid field paths ("personalizations.0.to.1.email").
//
// # Standards
//
//   - RFC 5322 §2.1.1, §2.2.3: header lines are folded at whitespace to
//     stay within 76 characters (RFC 2047 §2's limit for a line with an
//     encoded-word, under RFC 5322's 78) where a fold point exists, and
//     never pass 998; CRLF is the only line ending. Every message passes
//     message.CheckLineEndings, message.CheckLineLength and
//     message.ParseHeader. Subjects and header values are trimmed of
//     surrounding spaces and tabs.
//   - RFC 5322 §3.4, §3.2.3-§3.2.5: addresses are bare addr-specs checked
//     with net/mail (ASCII only, at most 254 characters); display names are
//     atoms, a quoted-string, or RFC 2047 encoded-words. Address lists are
//     folded after commas and between words.
//   - RFC 5322 §3.6: the fields are written in this order: From, Reply-To,
//     To, Cc, Subject, Date (Options.Now, §3.3), MIME-Version, the
//     request's headers sorted by name, then Content-Type and
//     Content-Transfer-Encoding. There is never a Bcc field: bcc addresses
//     are envelope recipients only. There is no Message-ID unless the
//     request sets one; message.Prepare adds it.
//   - RFC 2045 §5, §6.7, §6.8: every text is quoted-printable, charset
//     utf-8 for text/* types, lines of at most 76 characters, line breaks
//     made CRLF (RFC 2046 §4.1.1); attachments are base64 in lines of 76.
//   - RFC 2046 §5.1: one content item is a single-part body; several are
//     multipart/alternative in the request's order. Inline attachments
//     wrap that in multipart/related (RFC 2387, with its type parameter);
//     other attachments wrap the whole in multipart/mixed:
//     mixed[related[alternative[plain, html, …], inline…], attachment…],
//     each level present only when needed. Boundaries start with "=_",
//     which neither encoding can produce.
//   - RFC 2047: non-ASCII text in Subject, display names and header values
//     becomes encoded-words of at most 75 characters, Q or B (whichever is
//     shorter), using only the characters §5(3) allows in a phrase. So do
//     a Subject or display name that would read as an encoded-word, and a
//     Subject word too long for a line. An ASCII header value is kept as
//     given (it may be a structured field such as List-Unsubscribe) and
//     only folded; one with a run too long for a 998-character line is
//     refused.
//   - RFC 2183: Content-Disposition attachment or inline with the filename,
//     in RFC 2231 form when it is not ASCII, cut into RFC 2231
//     continuations when too long for a line (also the Content-Type name
//     parameter). RFC 2392: Content-ID <content_id>, for cid: links (a
//     content_id given as <id> is taken as id).
//
// # SendGrid fields
//
// Supported: personalizations (to, cc, bcc, from, subject, headers,
// substitutions, custom_args, send_at), from, reply_to, reply_to_list,
// subject, content, attachments, headers, categories, custom_args,
// send_at, batch_id, asm.group_id and mail_settings.sandbox_mode (which
// sets [Message.Sandbox]; the request is still checked in full).
//
// A personalization's subject replaces the request's; its headers are
// merged over the request's (names compared case-insensitively); its
// custom_args over the request's; its send_at replaces the request's. Its
// from replaces the request's as header From and envelope sender
// ([Message.From]), so the caller must check every Message.From, not only
// the request's. Substitutions replace each key by its value, in one pass
// with longer keys first, in the subject and in every content value (not
// in headers or attachments).
//
// Refused, with a FieldError naming the field:
//   - template_id (a non-empty one) and dynamic_template_data (a non-empty
//     one, per personalization or at the top): Postern has no templates.
//   - Any key that is not one of SendGrid's, at any level (also inside
//     mail_settings and tracking_settings), so that a typo is found instead
//     of ignored; this covers legacy keys such as "sections" and
//     mail_settings.bcc, which would add a recipient Postern would not see.
//   - A key given twice in one JSON object, a value of the wrong type
//     (custom_args and substitutions take strings only), nesting deeper
//     than MaxDepth, and every count or size past the Max constants
//     (1000 personalizations, 1000 recipients per personalization and in
//     all, 10 categories of at most 255 characters, 10000 bytes of
//     custom_args, …).
//   - An address twice in the to, cc and bcc of one personalization
//     (compared case-insensitively), as SendGrid does; reply_to together
//     with reply_to_list.
//   - content that does not put text/plain first and text/html next when
//     given (field "content.0.type"), a type given twice, multipart/* and
//     message/* types for content or attachments.
//   - Headers that Postern writes or that carry trust: From, To, Cc, Bcc,
//     Subject, Reply-To, Sender, Date, MIME-Version, Content-Type,
//     Content-Transfer-Encoding, Content-Disposition, Content-ID,
//     DKIM-Signature, ARC-Seal, ARC-Message-Signature,
//     ARC-Authentication-Results, Authentication-Results, Received,
//     Return-Path, X-Originating-IP, X-SG-ID, X-SG-EID and X-SMTPAPI.
//     Names must be RFC 5322 field names; values may not hold control
//     characters (CR, LF and NUL included). Message-ID is allowed, for
//     senders that thread replies by it, if it is one <id@domain>; at the
//     request level only with a single personalization, and never the same
//     in two personalizations, because receivers drop messages that repeat
//     a Message-ID.
//   - A send_at further ahead than Options.MaxSendAhead (72 hours). A past
//     send_at means "at once", as in SendGrid ([Meta.SendAt] zero).
//
// Accepted and ignored: tracking_settings, ip_pool_name, the mail_settings
// other than sandbox_mode (bypass_*_management, footer) and
// asm.groups_to_display. They are checked for type but not kept in
// [Request].
//
// # X-SMTPAPI
//
// [ParseSMTPAPI] reads category, unique_args, send_at, asm_group_id and
// batch_id, accepts and ignores filters, ip_pool and asm_groups_to_display,
// and refuses to, sub, section and send_each_at (Postern does not expand
// one SMTP message into many) and unknown keys.
//
// # Sizes
//
// Build refuses a message whose header would pass message.MaxHeaderBytes,
// one over Options.MaxMessageBytes, and a request whose messages together
// pass Options.MaxTotalBytes: a request's attachments are copied into
// every personalization's message.
package compose

// Package message is the pure (no I/O) handling of a submitted message's
// bytes: the checks the SMTP server runs on a DATA payload, the parser of
// its header section, and the trace fields Postern adds before queueing.
//
// It implements:
//   - RFC 5321 §4.5.3.1.6: text lines of at most 1000 octets, CRLF included
//     (CheckLineLength).
//   - RFC 5321 §2.3.8 and the SMTP smuggling defence (CVE-2023-51764 and
//     its family): CRLF is the only line ending; a bare CR or bare LF
//     anywhere is refused (CheckLineEndings).
//   - RFC 5322 §2.2 and §3.6: the header section is a sequence of fields,
//     each a name of printable US-ASCII other than ":" (§3.6.8), optional
//     WSP before the colon (§4.5, obsolete syntax), and a body folded onto
//     continuation lines that begin with SP or HTAB (§2.2.3), up to the
//     first empty line (ParseHeader). Unfolding follows §2.2.3.
//   - RFC 5321 §4.4 and RFC 3848: the Received trace field, with the
//     ESMTP, ESMTPS and ESMTPSA "with" protocol types (Received).
//   - RFC 5322 §3.6.1 (Date, §3.3 date-time) and §3.6.4 (Message-ID):
//     added by Prepare when the message lacks them.
//
// Stricter than RFC 5322, to leave no room for parser differentials between
// Postern and the systems behind it: a bare CR or LF in the header section,
// an mbox "From " line, and a header line made only of whitespace (which
// some parsers take for the end of the header) are all refused.
//
// Errors never quote message bytes, so their text may be shown to a client.
package message

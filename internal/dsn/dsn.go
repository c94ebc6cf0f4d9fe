package dsn

import (
	"errors"
	"io"
	"time"
)

// Action is the value of a recipient's Action field (RFC 3464 §2.3.3).
type Action string

// The actions of RFC 3464 §2.3.3.
const (
	Failed    Action = "failed"
	Delayed   Action = "delayed"
	Delivered Action = "delivered"
	Relayed   Action = "relayed"
	Expanded  Action = "expanded"
)

func (a Action) valid() bool {
	switch a {
	case Failed, Delayed, Delivered, Relayed, Expanded:
		return true
	}
	return false
}

// Limits shared by Build and Parse: Build never produces a report that
// Parse would refuse for its size.
const (
	// MaxRecipients is the most per-recipient groups in one report.
	MaxRecipients = 1000
	// MaxPartSize is the most octets Parse reads of the delivery-status
	// part or of the returned header section, after transfer decoding.
	MaxPartSize = 1 << 20
	// MaxParts is the most MIME parts Parse looks at.
	MaxParts = 100
	// MaxAddressLen is the longest recipient or sender address Build
	// takes, in octets (RFC 5321 §4.5.3.1.3: a path of 256 octets,
	// angle brackets included).
	MaxAddressLen = 254
	// MaxDiagnosticLen caps a Diagnostic-Code once Build has cleaned it.
	MaxDiagnosticLen = 1024
	// MaxReturnedHeader is the most octets of the original header
	// section that Build returns; a longer one is cut at a line end.
	MaxReturnedHeader = 512 << 10
)

// Errors. Build's input errors and Parse's errors wrap one of these; their
// text never contains bytes of the message.
var (
	// ErrNullSender: the original message had the null reverse path, and
	// a DSN must never be sent to it.
	ErrNullSender = errors.New("dsn: no sender to return the message to")
	// ErrNoRecipients: a report must describe at least one recipient.
	ErrNoRecipients = errors.New("dsn: no recipients")
	// ErrInvalid: a Report field Build cannot represent.
	ErrInvalid = errors.New("dsn: invalid report")
	// ErrTooLarge: over one of the limits above.
	ErrTooLarge = errors.New("dsn: over a size limit")
	// ErrNotReport: the message is not a multipart/report delivery
	// status notification.
	ErrNotReport = errors.New("dsn: not a delivery status notification")
	// ErrNoDeliveryStatus: a multipart/report without a
	// message/delivery-status part.
	ErrNoDeliveryStatus = errors.New("dsn: no message/delivery-status part")
	// ErrMalformed: the message or its delivery-status part does not
	// parse.
	ErrMalformed = errors.New("dsn: malformed report")
)

// Recipient is one recipient that a report describes.
type Recipient struct {
	// Address is the recipient as it was in the envelope: Final-Recipient
	// "rfc822; Address" (or "utf-8; …", RFC 6533, when it is not
	// printable US-ASCII). Required; at most MaxAddressLen octets, valid
	// UTF-8, no control characters, no leading or trailing space.
	Address string
	// OriginalRecipient, if set, is the ORCPT address of RFC 3461
	// (xtext-decoded), written as Original-Recipient like Address.
	OriginalRecipient string
	Action            Action
	// Status is the RFC 3463 code, e.g. {5, 1, 1}. All zero means the
	// generic code of the action's class: 5.0.0 for Failed, 4.0.0 for
	// Delayed, 2.0.0 otherwise.
	Status [3]int
	// RemoteMTA is the host that gave the reply, "mx.example.net" or
	// "dns; mx.example.net"; empty when there was none. Bytes outside
	// printable US-ASCII are replaced by "?".
	RemoteMTA string
	// Diagnostic is the remote reply ("550 5.1.1 no such user"), the lines
	// of a multi-line reply joined with spaces, or Postern's own
	// description of a local condition. It becomes "Diagnostic-Code:
	// smtp; …" when it starts with a reply code, "X-Postern; …"
	// otherwise. Control characters and whitespace runs become one space,
	// bytes outside US-ASCII "?", and it is cut at MaxDiagnosticLen.
	Diagnostic string
	// LastAttempt is the time of the last delivery attempt; zero: none.
	LastAttempt time.Time
	// WillRetryUntil is when Postern gives up, for Delayed; zero: not said.
	WillRetryUntil time.Time
}

// Report is what Build turns into a DSN.
type Report struct {
	// ReportingMTA is Postern's hostname: "Reporting-MTA: dns; host",
	// the From address MAILER-DAEMON@host and the Message-ID domain.
	ReportingMTA string
	// QueueID, if set, is written as X-Postern-Queue-ID and in the text.
	// Printable US-ASCII without spaces, at most 128 octets.
	QueueID string
	// ArrivalDate is when Postern accepted the message; zero: not said.
	ArrivalDate time.Time
	// Sender is the original envelope sender: the DSN's To and its
	// envelope recipient. It must be an RFC 5321 Mailbox in US-ASCII;
	// empty (or "<>") is refused with ErrNullSender.
	Sender     string
	Recipients []Recipient
	// Original is the original message. Only its header section is
	// returned (text/rfc822-headers, base64 unless it is plain 7-bit
	// text), never its body; empty: no third part.
	Original []byte
	// Now is the DSN's Date. Required.
	Now time.Time
	// Rand feeds the Message-ID and the MIME boundary; nil means
	// crypto/rand.
	Rand io.Reader
}

// Parsed is the machine-readable part of a DSN.
type Parsed struct {
	// ReportingMTA is the Reporting-MTA name without its type ("dns;").
	ReportingMTA string
	// QueueID is X-Postern-Queue-ID, X-Postfix-Queue-ID or another
	// X-…-Queue-ID per-message field, in that order of preference.
	QueueID    string
	Recipients []ParsedRecipient
	// OriginalHeaders is the returned header section: a
	// text/rfc822-headers part, or the header section of a returned
	// message/rfc822; nil when there is neither.
	OriginalHeaders []byte
}

// ParsedRecipient is one per-recipient group. Addresses, RemoteMTA and
// Diagnostic are without their type ("rfc822;", "dns;", "smtp;"); a
// "utf-8" address is decoded (RFC 6533). Every string is valid UTF-8
// without control characters, folds replaced by one space.
type ParsedRecipient struct {
	FinalRecipient    string
	OriginalRecipient string
	Action            Action
	Status            [3]int
	RemoteMTA         string
	Diagnostic        string
}

// AboutAddress reports whether a status is a permanent failure about the
// recipient address itself (RFC 3463 5.1.x addressing, 5.2.1 mailbox
// disabled), as opposed to one about this message (content, size,
// policy): the kind that puts an address on a suppression list.
func AboutAddress(status [3]int) bool {
	return status[0] == 5 && (status[1] == 1 || status[1] == 2 && status[2] == 1)
}

package compose

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Limits on a request. Decode and Build refuse a request past any of them
// with a FieldError naming the field.
const (
	MaxRequestBytes       = 30 << 20 // a request body, in octets (SendGrid: 30 MB)
	MaxDepth              = 32       // nesting of JSON objects and arrays
	MaxPersonalizations   = 1000     // personalizations in a request
	MaxRecipients         = 1000     // to+cc+bcc, per personalization and in all
	MaxReplyTo            = 1000     // reply_to_list entries
	MaxContent            = 10       // content items
	MaxAttachments        = 100      // attachments
	MaxHeaders            = 100      // entries of one headers object
	MaxCategories         = 10       // categories
	MaxCategoryLength     = 255      // characters of one category
	MaxCustomArgsBytes    = 10000    // keys and values of custom_args, together
	MaxSubstitutionsBytes = 10000    // keys and values of one personalization's substitutions
	MaxGroupsToDisplay    = 25       // asm.groups_to_display entries
	MaxErrors             = 100      // FieldErrors reported; the rest are summarized

	MaxAddressLength   = 254  // octets of an email address (RFC 5321 §4.5.3.1.3 path, less <>)
	MaxNameLength      = 256  // octets of a display name
	MaxSubjectLength   = 4096 // octets of a subject, after substitution
	MaxHeaderName      = 100  // octets of a header field name
	MaxHeaderValue     = 8192 // octets of a header field value
	MaxFilenameLength  = 255  // octets of an attachment filename
	MaxMediaTypeLength = 255  // octets of a content or attachment type
	MaxContentIDLength = 250  // octets of a content_id
	MaxBatchIDLength   = 255  // octets of a batch_id
)

// Defaults for the zero values of Options.
const (
	DefaultMaxSendAhead    = 72 * time.Hour
	DefaultMaxMessageBytes = 40 << 20
	DefaultMaxTotalBytes   = 256 << 20
)

// Meta is what Postern keeps with a message besides its body.
type Meta struct {
	Categories []string          `json:"categories,omitempty"`
	CustomArgs map[string]string `json:"custom_args,omitempty"` // custom_args (API) / unique_args (X-SMTPAPI)
	SendAt     time.Time         `json:"-"`                     // zero: at once
	BatchID    string            `json:"batch_id,omitempty"`
	ASMGroupID int64             `json:"asm_group_id,omitempty"`
}

// FieldError is one problem with the request, in SendGrid's error shape.
type FieldError struct {
	// Field is the path of the offending field in SendGrid's style,
	// "personalizations.0.to.1.email", "from.email", "content.0.type";
	// "" when no one field is at fault. A JSON key in a path is cut to 64
	// characters, with bytes outside printable ASCII replaced by "?".
	Field string
	// Message is short and safe to show to the client: it never holds Go
	// error text and never quotes more than a short part of the input.
	Message string
	// Help is an optional hint; often "".
	Help string
}

// Errors is every problem found with a request. Decode, Build and
// ParseSMTPAPI return a *Errors for a request the client must fix, so the
// caller can render all of them at once:
//
//	var errs *compose.Errors
//	if errors.As(err, &errs) { /* 400 with *errs */ }
//
// Any other error they return is Postern's own (Options.Rand failing, a
// missing Options.Now) and must not be shown to the client.
type Errors []FieldError

func (e Errors) Error() string {
	if len(e) == 0 {
		return "compose: invalid request"
	}
	var b strings.Builder
	b.WriteString("compose: ")
	if e[0].Field != "" {
		b.WriteString(e[0].Field)
		b.WriteString(": ")
	}
	b.WriteString(e[0].Message)
	if len(e) > 1 {
		fmt.Fprintf(&b, " (and %d more)", len(e)-1)
	}
	return b.String()
}

// add appends a FieldError, keeping at most MaxErrors and a last entry
// that says more were found.
func (e *Errors) add(field, msg string) {
	switch {
	case len(*e) < MaxErrors:
		*e = append(*e, FieldError{Field: field, Message: msg})
	case len(*e) == MaxErrors:
		*e = append(*e, FieldError{Message: fmt.Sprintf("more than %d problems; fix these first", MaxErrors)})
	}
}

// addf is add with a format.
func (e *Errors) addf(field, format string, args ...any) {
	e.add(field, fmt.Sprintf(format, args...))
}

// err returns e as an error, nil when empty.
func (e *Errors) err() error {
	if len(*e) == 0 {
		return nil
	}
	return e
}

// Options are what Build needs from its caller.
type Options struct {
	// Now is the time of the request, for send_at and the Date field.
	// Required.
	Now time.Time
	// Rand feeds MIME boundaries; nil means crypto/rand.
	Rand io.Reader
	// MaxSendAhead is how far ahead send_at may be; 0 means
	// DefaultMaxSendAhead (72h, as SendGrid).
	MaxSendAhead time.Duration
	// MaxMessageBytes bounds one composed message, substitutions applied;
	// 0 means DefaultMaxMessageBytes.
	MaxMessageBytes int
	// MaxTotalBytes bounds all the messages of a request together (a
	// request's attachments are repeated in every personalization's
	// message); 0 means DefaultMaxTotalBytes.
	MaxTotalBytes int
}

func (o Options) sendAhead() time.Duration {
	if o.MaxSendAhead <= 0 {
		return DefaultMaxSendAhead
	}
	return o.MaxSendAhead
}

func (o Options) maxMessage() int {
	if o.MaxMessageBytes <= 0 {
		return DefaultMaxMessageBytes
	}
	return o.MaxMessageBytes
}

func (o Options) maxTotal() int {
	if o.MaxTotalBytes <= 0 {
		return DefaultMaxTotalBytes
	}
	return o.MaxTotalBytes
}

// Message is one composed message (one per personalization).
type Message struct {
	// From is the envelope sender: the personalization's from.email, else
	// the request's. The caller must check that the key may send as it.
	From string
	// Recipients are the to, cc and bcc addresses, in that order. There
	// are no duplicates: Build refuses them.
	Recipients []string
	// Body is the RFC 5322 message, CRLF line endings, no Bcc field
	// anywhere, no Message-ID unless the request set one.
	Body []byte
	// Meta is the request's categories, custom_args, batch_id and
	// asm.group_id, with the personalization's custom_args merged over the
	// request's and its send_at, else the request's.
	Meta Meta
	// Sandbox is mail_settings.sandbox_mode.enable: validate, do not send.
	Sandbox bool
}

// Request is the decoded body of POST /v3/mail/send. The JSON tags are
// SendGrid's names; an empty string or a zero number means "not given".
// Fields that Postern accepts and ignores (tracking_settings, ip_pool_name,
// most of mail_settings, asm.groups_to_display) are not kept.
type Request struct {
	Personalizations []Personalization `json:"personalizations"`
	From             Address           `json:"from"`
	ReplyTo          *Address          `json:"reply_to,omitempty"`
	ReplyToList      []Address         `json:"reply_to_list,omitempty"`
	Subject          string            `json:"subject,omitempty"`
	Content          []Content         `json:"content,omitempty"`
	Attachments      []Attachment      `json:"attachments,omitempty"`
	Headers          map[string]string `json:"headers,omitempty"`
	Categories       []string          `json:"categories,omitempty"`
	CustomArgs       map[string]string `json:"custom_args,omitempty"`
	SendAt           int64             `json:"send_at,omitempty"` // unix seconds
	BatchID          string            `json:"batch_id,omitempty"`
	ASM              *ASM              `json:"asm,omitempty"`
	MailSettings     *MailSettings     `json:"mail_settings,omitempty"`
}

// Personalization is one envelope: its recipients and what it overrides.
type Personalization struct {
	From          *Address          `json:"from,omitempty"`
	To            []Address         `json:"to"`
	Cc            []Address         `json:"cc,omitempty"`
	Bcc           []Address         `json:"bcc,omitempty"`
	Subject       string            `json:"subject,omitempty"`
	Headers       map[string]string `json:"headers,omitempty"`
	Substitutions map[string]string `json:"substitutions,omitempty"`
	CustomArgs    map[string]string `json:"custom_args,omitempty"`
	SendAt        int64             `json:"send_at,omitempty"` // unix seconds
}

// Address is an email address with an optional display name.
type Address struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// Content is one body: a MIME type and its text.
type Content struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Attachment is a file sent with the message. Content is base64.
type Attachment struct {
	Content     string `json:"content"`
	Type        string `json:"type,omitempty"`
	Filename    string `json:"filename"`
	Disposition string `json:"disposition,omitempty"` // "attachment" (default) or "inline"
	ContentID   string `json:"content_id,omitempty"`
}

// ASM is the unsubscribe group of the message.
type ASM struct {
	GroupID int64 `json:"group_id"`
}

// MailSettings holds the one mail setting Postern acts on.
type MailSettings struct {
	SandboxMode *Setting `json:"sandbox_mode,omitempty"`
}

// Setting is a SendGrid on/off setting.
type Setting struct {
	Enable bool `json:"enable"`
}

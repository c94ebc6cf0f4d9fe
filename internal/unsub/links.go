package unsub

import (
	"errors"
	"strings"
)

// Path is where the HTTP listener answers unsubscribe URLs: Path + TOKEN.
const Path = "/unsubscribe/"

// The header fields Links stamps (RFC 2369 §3.2, RFC 8058 §3.1).
const (
	HeaderList = "List-Unsubscribe"
	HeaderPost = "List-Unsubscribe-Post"
	// PostValue is List-Unsubscribe-Post's only value, and the body a
	// one-click POST carries.
	PostValue = "List-Unsubscribe=One-Click"
)

// Links makes the unsubscribe URLs of one installation: the funnel's
// submit.ListUnsubscribe.
type Links struct {
	Codec Codec
	// Base is the HTTP listener's public URL (http.public_url), with or
	// without a trailing slash.
	Base string
}

// URL returns the one-click unsubscribe URL of recipient rcpt of message
// msgID sent by user userID.
func (l Links) URL(userID int64, rcpt, msgID string) (string, error) {
	base := strings.TrimSuffix(l.Base, "/")
	if !strings.HasPrefix(base, "https://") && !strings.HasPrefix(base, "http://") {
		return "", errors.New("unsub: base URL must be http:// or https://")
	}
	tok, err := l.Codec.Encode(Token{UserID: userID, MessageID: msgID, Recipient: rcpt})
	if err != nil {
		return "", err
	}
	return base + Path + tok, nil
}

// Headers returns the two fields for url, as message.AddFields takes
// them.
func Headers(url string) map[string]string {
	return map[string]string{HeaderList: "<" + url + ">", HeaderPost: PostValue}
}

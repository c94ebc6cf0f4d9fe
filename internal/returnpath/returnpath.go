package returnpath

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strconv"
	"strings"
)

// Errors of Parse; test with errors.Is.
var (
	// ErrNotReturnPath: the address is not on a return-path subdomain, or
	// its local part does not have the shape of a token.
	ErrNotReturnPath = errors.New("returnpath: not a return-path address")
	// ErrForged: the shape is right but the MAC does not verify.
	ErrForged = errors.New("returnpath: token does not verify")
)

const (
	prefix  = "b-"
	idLen   = 26 // queue ids: 16 bytes in base32, see internal/queue
	macLen  = 10 // bytes of HMAC kept: 80 bits
	maxIdx  = 99999
	context = "postern return path v1\x00"
)

var macEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Token is what a return-path address carries.
type Token struct {
	MessageID string // queue id
	Idx       int    // the recipient's index in the message
	Domain    string // the verified sending domain, lower-case
}

// Codec makes and checks return-path addresses.
type Codec struct {
	Key   []byte // the installation secret
	Label string // the return-path subdomain's label, e.g. "pst-bounces"
}

// Address returns the envelope sender for t: b-MSGID-IDX-MAC@LABEL.DOMAIN.
func (c Codec) Address(t Token) string {
	id, dom := strings.ToLower(t.MessageID), strings.ToLower(t.Domain)
	idx := strconv.Itoa(t.Idx)
	return prefix + id + "-" + idx + "-" + c.mac(id, idx, dom) + "@" + strings.ToLower(c.Label) + "." + dom
}

func (c Codec) mac(id, idx, dom string) string {
	h := hmac.New(sha256.New, c.Key)
	h.Write([]byte(context + id + "\x00" + idx + "\x00" + dom))
	return macEncoding.EncodeToString(h.Sum(nil)[:macLen])
}

// Parse reads a return-path address and verifies its MAC.
func (c Codec) Parse(addr string) (Token, error) {
	addr = strings.ToLower(addr)
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || c.Label == "" {
		return Token{}, ErrNotReturnPath
	}
	local, host := addr[:at], addr[at+1:]
	label := strings.ToLower(c.Label) + "."
	if !strings.HasPrefix(host, label) || len(host) == len(label) {
		return Token{}, ErrNotReturnPath
	}
	dom := host[len(label):]
	rest, ok := strings.CutPrefix(local, prefix)
	if !ok {
		return Token{}, ErrNotReturnPath
	}
	parts := strings.Split(rest, "-")
	if len(parts) != 3 {
		return Token{}, ErrNotReturnPath
	}
	id, idx, mac := parts[0], parts[1], parts[2]
	if len(id) != idLen || !only(id, "0123456789abcdefghijklmnopqrstuv") ||
		len(mac) != macEncoding.EncodedLen(macLen) || !only(mac, "abcdefghijklmnopqrstuvwxyz234567") {
		return Token{}, ErrNotReturnPath
	}
	n, err := strconv.Atoi(idx)
	if err != nil || n < 0 || n > maxIdx || strconv.Itoa(n) != idx {
		return Token{}, ErrNotReturnPath
	}
	if !hmac.Equal([]byte(mac), []byte(c.mac(id, idx, dom))) {
		return Token{}, ErrForged
	}
	return Token{MessageID: id, Idx: n, Domain: dom}, nil
}

func only(s, set string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}

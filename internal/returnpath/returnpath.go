package returnpath

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Errors of Parse; test with errors.Is.
var (
	// ErrNotReturnPath: the address is not on a return-path subdomain, or
	// its local part does not have the shape of a token.
	ErrNotReturnPath = errors.New("returnpath: not a return-path address")
	// ErrForged: the shape is right but the MAC does not verify, or it
	// verifies and the date is more than a day ahead of the clock (this
	// server never makes such a date: the key or the clock is wrong).
	ErrForged = errors.New("returnpath: token does not verify")
	// ErrExpired: the MAC verifies but the token is older than the
	// codec's lifetime, or it is an undated v1 token.
	ErrExpired = errors.New("returnpath: token expired")
)

const (
	prefix  = "b-"
	idLen   = 26 // queue ids: 16 bytes in base32, see internal/queue
	macLen  = 10 // bytes of HMAC kept: 80 bits
	maxIdx  = 99999
	maxHour = 9_999_999 // hours since 1970, 7 digits: up to the year 3110
	// skew is how far ahead of the clock a date may be: another node's
	// clock, or this one's stepped back.
	skew = 24 * time.Hour

	contextV1 = "postern return path v1\x00" // undated; only recognised, see Parse
	contextV2 = "postern return path v2\x00"
)

var macEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Token is what a return-path address carries.
type Token struct {
	MessageID string // queue id
	Idx       int    // the recipient's index in the message
	Domain    string // the verified sending domain, lower-case
	// Date is when the address was made: the delivery attempt that sent
	// with it. It travels to the hour, so Parse returns the start of that
	// hour in UTC; Address writes a date before 1970 as 1970 (an address
	// already expired).
	Date time.Time
}

// Codec makes and checks return-path addresses.
type Codec struct {
	Key   []byte // the installation secret
	Label string // the return-path subdomain's label, e.g. "pst-bounces"
	// Lifetime is how long an address is accepted after its Date
	// (domains.return_path_lifetime). Zero or less refuses every address
	// as expired: a codec left without one fails closed.
	Lifetime time.Duration
}

// Address returns the envelope sender for t: b-MSGID-IDX-HOUR-MAC@LABEL.DOMAIN,
// HOUR being t.Date in hours since 1970.
func (c Codec) Address(t Token) string {
	id, dom := strings.ToLower(t.MessageID), strings.ToLower(t.Domain)
	idx := strconv.Itoa(t.Idx)
	hour := strconv.FormatInt(min(max(t.Date.Unix()/3600, 0), maxHour), 10)
	return prefix + id + "-" + idx + "-" + hour + "-" + c.mac(contextV2, id, idx, hour, dom) + "@" +
		strings.ToLower(c.Label) + "." + dom
}

// mac is the MAC of a token's fields; v1 tokens have no hour field.
func (c Codec) mac(context string, fields ...string) string {
	h := hmac.New(sha256.New, c.Key)
	h.Write([]byte(context + strings.Join(fields, "\x00")))
	return macEncoding.EncodeToString(h.Sum(nil)[:macLen])
}

// Parse reads a return-path address, verifies its MAC and checks its
// date against now: an address is accepted from its Date until Lifetime
// after the end of its hour, and refused as ErrForged when its date is
// more than a day ahead of now.
//
// A v1 address (b-MSGID-IDX-MAC, made before dates were carried) is
// never accepted, since it would never expire: one whose MAC verifies is
// ErrExpired, so that a late bounce for it gets a truthful answer.
func (c Codec) Parse(addr string, now time.Time) (Token, error) {
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
	if len(parts) != 3 && len(parts) != 4 {
		return Token{}, ErrNotReturnPath
	}
	id, idx, mac := parts[0], parts[1], parts[len(parts)-1]
	if len(id) != idLen || !only(id, "0123456789abcdefghijklmnopqrstuv") ||
		len(mac) != macEncoding.EncodedLen(macLen) || !only(mac, "abcdefghijklmnopqrstuvwxyz234567") {
		return Token{}, ErrNotReturnPath
	}
	n, ok := number(idx, maxIdx)
	if !ok {
		return Token{}, ErrNotReturnPath
	}
	if len(parts) == 3 {
		if !hmac.Equal([]byte(mac), []byte(c.mac(contextV1, id, idx, dom))) {
			return Token{}, ErrForged
		}
		return Token{}, ErrExpired
	}
	hour := parts[2]
	h, ok := number(hour, maxHour)
	if !ok {
		return Token{}, ErrNotReturnPath
	}
	if !hmac.Equal([]byte(mac), []byte(c.mac(contextV2, id, idx, hour, dom))) {
		return Token{}, ErrForged
	}
	date := time.Unix(int64(h)*3600, 0).UTC()
	switch {
	case date.After(now.Add(skew)):
		return Token{}, ErrForged
	case c.Lifetime <= 0 || !now.Before(date.Add(time.Hour+c.Lifetime)):
		return Token{}, ErrExpired
	}
	return Token{MessageID: id, Idx: n, Domain: dom, Date: date}, nil
}

// number reads a decimal in its one canonical form (no sign, no leading
// zero), at most limit.
func number(s string, limit int) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0 && n <= limit && strconv.Itoa(n) == s
}

func only(s, set string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}

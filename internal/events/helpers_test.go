package events

import (
	"encoding/base64"
	"strings"
)

func decodeB64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

// toValidUTF8 is what encoding/json makes of a string with invalid UTF-8.
func toValidUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

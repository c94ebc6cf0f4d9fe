package manageapi

import (
	"errors"
	"testing"

	"github.com/postern/postern/internal/admin"
)

// FuzzWhitelistBodies: the bodies of POST and DELETE
// /v3/access_settings/whitelist decode, or are refused as the client's
// fault (400), never otherwise; every IP that is read is an IP rule or
// refused as one.
func FuzzWhitelistBodies(f *testing.F) {
	for _, s := range []string{
		`{"ips":[{"ip":"192.168.1.1"},{"ip":"192.*.*.*"},{"ip":"192.168.1.3/32"}]}`,
		`{"ids":[1,2,3]}`,
		`{"ips":[]}`, `{"ips":[{"ip":""}]}`, `{"ips":"x"}`, `{"ids":[1.5]}`, `{"ids":[-1]}`, `{} {}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var add whitelistAdd
		if err := decodeJSON(body, &add); err != nil {
			clientFault(t, err)
		} else if ips, err := add.list(); err != nil {
			clientFault(t, err)
		} else {
			for _, ip := range ips {
				if p, err := admin.ParseIPRule(ip); err != nil {
					clientFault(t, err)
				} else if !p.IsValid() || p != p.Masked() {
					t.Fatalf("%q read as %v", ip, p)
				}
			}
		}
		var del whitelistDelete
		if err := decodeJSON(body, &del); err != nil {
			clientFault(t, err)
		}
	})
}

// clientFault fails unless err is one that rq.fail answers with 400.
func clientFault(t *testing.T, err error) {
	t.Helper()
	var inv *admin.InvalidError
	if !errors.Is(err, errBadJSON) && !errors.As(err, &inv) {
		t.Fatalf("error %v is not the client's fault", err)
	}
}

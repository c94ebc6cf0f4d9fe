package manageapi

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzKeyRequests feeds the bodies of the API key and subuser endpoints
// (POST/PATCH/PUT /v3/api_keys, POST and PATCH /v3/subusers) to their
// decoders: none panics, what a check accepts has what the endpoint
// needs, and a decoded body encodes and decodes to itself. The corpus is
// in testdata/fuzz/FuzzKeyRequests.
func FuzzKeyRequests(f *testing.F) {
	for _, s := range []string{
		`{"name":"My API Key","scopes":["mail.send","alerts.create","alerts.read"]}`,
		`{"name":"A New Hope"}`,
		`{"name":"","scopes":[]}`,
		`{"username":"John@example.com","email":"John@example.com","password":"johns_password","ips":["1.1.1.1","2.2.2.2"],"region":"global","include_region":true}`,
		`{"disabled":false}`,
		`{"disabled":null}`,
		`{"name":"x","scopes":"mail.send"}`,
		`{"name":"\u0000\ud800"}`,
		`[]`,
		`{"name":"x"}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var k keyRequest
		if decodeJSON(body, &k) == nil {
			for _, needScopes := range []bool{false, true} {
				if k.check(needScopes) == nil && (k.Name == nil || *k.Name == "" || needScopes && len(k.Scopes) == 0) {
					t.Errorf("check(%v) accepted %+v", needScopes, k)
				}
			}
			roundTrip(t, &k, new(keyRequest))
		}
		var s subuserRequest
		if decodeJSON(body, &s) == nil {
			if n, err := s.subuser(); err == nil && (n.Name == "" || n.Email == "" || n.Password == "" ||
				n.Name != *s.Username || n.Email != *s.Email || n.Password != *s.Password) {
				t.Errorf("subuser() = %+v from %+v", n, s)
			}
			roundTrip(t, &s, new(subuserRequest))
		}
		var d disableRequest
		if decodeJSON(body, &d) == nil {
			if d.check() == nil && d.Disabled == nil {
				t.Error("check accepted a missing disabled")
			}
			roundTrip(t, &d, new(disableRequest))
		}
	})
}

// roundTrip checks that v, decoded once, encodes and decodes to itself.
func roundTrip[T any](t *testing.T, v, again *T) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %+v: %v", *v, err)
	}
	if err := decodeJSON(b, again); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if !reflect.DeepEqual(v, again) {
		t.Errorf("round trip: %+v became %+v", *v, *again)
	}
}

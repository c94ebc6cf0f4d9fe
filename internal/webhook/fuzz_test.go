package webhook

import (
	"net/url"
	"testing"
)

// A URL ValidateURL accepts is one net/http can POST to: http or https,
// a host, no user information.
func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/sg?x=1", "http://[::1]:80/", "https://u@h/", "http:h", "https://h:99999/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := ValidateURL(raw)
		if err == nil {
			u, perr := url.Parse(raw)
			if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || len(raw) > MaxURLLength {
				t.Fatalf("ValidateURL(%q) accepted: %v %+v", raw, perr, u)
			}
			return
		}
		if len(err.Error()) > 80 {
			t.Fatalf("ValidateURL(%q): long error %q", raw, err)
		}
	})
}

package web_test

import (
	"testing"

	"github.com/postern/postern/internal/web"
)

func TestBearer(t *testing.T) {
	for v, want := range map[string]string{
		"Bearer SG.abc.def":   "SG.abc.def",
		"bearer SG.abc.def":   "SG.abc.def",
		"BEARER   SG.abc.def": "SG.abc.def",
		" Bearer SG.abc.def ": "SG.abc.def",
		"Bearer":              "",
		"Bearer ":             "",
		"Bearer a b":          "",
		"Basic YTpi":          "",
		"SG.abc.def":          "",
		"":                    "",
		"Bearer\tSG.abc":      "",
	} {
		got, ok := web.Bearer(v)
		if got != want || ok != (want != "") {
			t.Errorf("Bearer(%q) = %q, %v; want %q", v, got, ok, want)
		}
	}
}

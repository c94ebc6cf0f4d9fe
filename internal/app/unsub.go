package app

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	"github.com/postern/postern/internal/unsub"
)

// unsubscribe builds one-click unsubscribe: the links the funnel stamps
// and the service the HTTP listener redeems them with, keyed with the
// installation's own secret for it (made at the first start, shared by
// every node of a cluster).
func (a *App) unsubscribe(ctx context.Context) (unsub.Links, *unsub.Service, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return unsub.Links{}, nil, err
	}
	key, err := a.Store.Secret(ctx, unsub.SecretName, fresh)
	if err != nil {
		return unsub.Links{}, nil, err
	}
	codec := unsub.Codec{Key: key}
	base := a.Config.PublicURL()
	if !strings.HasPrefix(base, "https://") {
		a.Log.Warn("http.public_url is not https: mailbox providers ignore one-click unsubscribe URLs that are not (RFC 8058)", "public_url", base)
	}
	return unsub.Links{Codec: codec, Base: base},
		&unsub.Service{Codec: codec, Store: a.Store, Now: time.Now, Log: a.Log.With("component", "unsubscribe")}, nil
}

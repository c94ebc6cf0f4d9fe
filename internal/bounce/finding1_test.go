package bounce_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/postern/postern/internal/bounce"
	"github.com/postern/postern/internal/store"
)

// TestFinding1RecipientExpired: the return paths of a delivery attempt
// are accepted on the MX listener for the codec's lifetime after that
// attempt and refused with bounce.ErrExpired after it; a retry days later
// sends with fresh ones, accepted a lifetime after the retry.
func TestFinding1RecipientExpired(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := &store.Claim{ID: f.msgID, UserID: f.shop.ID, UserName: f.shop.Name, From: "app@shop.test"}
	attempt := f.now
	first, err := f.svc.Sender(ctx, c, attempt)
	if err != nil || first == nil {
		t.Fatalf("Sender: %v", err)
	}
	retry, err := f.svc.Sender(ctx, c, attempt.Add(5*24*time.Hour))
	if err != nil || retry == nil {
		t.Fatalf("Sender: %v", err)
	}
	if first(1) == retry(1) {
		t.Fatalf("a retry 5 days later sends with the same return path %s", first(1))
	}
	life := codec.Lifetime
	check := func(addr string, at time.Time, want error) {
		t.Helper()
		f.now = at
		got, err := f.svc.Recipient(ctx, addr)
		if !errors.Is(err, want) || want == nil && got.Recipient != "full@far.test" {
			t.Errorf("Recipient(%s) at attempt+%s = %+v, %v; want %v", addr, at.Sub(attempt), got, err, want)
		}
	}
	check(first(1), attempt.Add(life-time.Hour), nil)
	check(first(1), attempt.Add(life+time.Hour), bounce.ErrExpired)
	check(retry(1), attempt.Add(life+time.Hour), nil)
	check(retry(1), attempt.Add(5*24*time.Hour+life+time.Hour), bounce.ErrExpired)
}

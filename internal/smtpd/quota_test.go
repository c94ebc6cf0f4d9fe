package smtpd_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/quota"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/submit"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func quotaEnv(t *testing.T, clk *fakeClock, defaults ...ratelimit.Limit) *env {
	return newEnv(t, envOptions{now: clk.Now, quota: func(st store.Store) submit.Quota {
		q := quota.New(st, defaults)
		if err := q.Seed(context.Background(), clk.Now()); err != nil {
			t.Fatal(err)
		}
		return q
	}})
}

// sendAt sends one message with n recipients and returns the error.
func (e *env) sendN(n int) error {
	c := e.dial(smtpd.Submissions)
	if err := c.Auth(plain(e.key)); err != nil {
		e.t.Fatal(err)
	}
	var rcpts []string
	for i := 0; i < n; i++ {
		rcpts = append(rcpts, fmt.Sprintf("r%d@example.test", i))
	}
	_, err := send(c, "app@example.test", rcpts, testMsg)
	return err
}

func TestRateLimitWindows(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 11, 23, 10, 0, 10, 0, time.UTC)}
	e := quotaEnv(t, clk, ratelimit.Limit{Period: ratelimit.Minute, Messages: 2})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := e.sendN(1); err != nil {
			t.Fatal(err)
		}
	}
	// Third in the same minute: refused at MAIL with the wait.
	se := wantCode(t, e.sendN(1), 451, smtp.EnhancedCode{4, 7, 0})
	if !strings.Contains(se.Message, "2 messages per minute") || !strings.Contains(se.Message, "50s") {
		t.Errorf("text %q", se.Message)
	}
	clk.Set(clk.Now().Add(time.Minute))
	if err := e.sendN(1); err != nil {
		t.Fatalf("next minute: %v", err)
	}

	// An hourly override on the key: 4 messages per hour (3 sent so far).
	if err := e.store.SetLimit(ctx, store.LimitRow{Kind: "key", Subject: e.keyID, Period: "hour", Messages: 4, Mode: "reject"}); err != nil {
		t.Fatal(err)
	}
	clk.Set(clk.Now().Add(time.Minute))
	if err := e.sendN(1); err != nil {
		t.Fatal(err)
	}
	clk.Set(clk.Now().Add(time.Minute))
	se = wantCode(t, e.sendN(1), 451, smtp.EnhancedCode{4, 7, 0})
	if !strings.Contains(se.Message, "per hour") {
		t.Errorf("text %q", se.Message)
	}
	clk.Set(time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC))
	// Recipients per day on the user: 9 (5 used); a 3-recipient message passes, the
	// next one is refused after DATA (MAIL cannot know the count).
	e.store.SetLimit(ctx, store.LimitRow{Kind: "user", Subject: "acme", Period: "day", Recipients: 9, Mode: "reject"})
	if err := e.sendN(3); err != nil { // 5 recipients today so far + 3 = 8
		t.Fatal(err)
	}
	clk.Set(clk.Now().Add(time.Minute))
	wantCode(t, e.sendN(3), 451, smtp.EnhancedCode{4, 7, 0})
	// A monthly quota is a permanent refusal.
	clk.Set(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))
	e.store.SetLimit(ctx, store.LimitRow{Kind: "user", Subject: "acme", Period: "month", Messages: 5, Mode: "reject"})
	se = wantCode(t, e.sendN(1), 550, smtp.EnhancedCode{5, 7, 0})
	if !strings.Contains(se.Message, "monthly quota") {
		t.Errorf("text %q", se.Message)
	}
	if n := len(e.queued()); n != 5 {
		t.Fatalf("%d queued, want the 5 accepted", n)
	}
}

// TestRateLimitExactUnderConcurrency: 50 sessions race for 20 messages an
// hour; exactly 20 get 250.
func TestRateLimitExactUnderConcurrency(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	e := quotaEnv(t, clk, ratelimit.Limit{Period: ratelimit.Hour, Messages: 20})
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, refused := 0, 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.DialTLS(e.addr[smtpd.Submissions], e.client)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if err := c.Auth(plain(e.key)); err != nil {
				t.Error(err)
				return
			}
			_, err = send(c, "app@example.test", []string{"a@example.test"}, testMsg)
			mu.Lock()
			defer mu.Unlock()
			var se *smtp.SMTPError
			switch {
			case err == nil:
				accepted++
			case errorsAs(err, &se) && se.Code == 451:
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if accepted != 20 || refused != 30 {
		t.Fatalf("accepted %d refused %d, want 20 and 30", accepted, refused)
	}
	if n := len(e.queued()); n != 20 {
		t.Fatalf("%d queued", n)
	}
}

// TestHoldMode: over a "hold" limit the message is accepted and held in
// the queue until the window opens.
func TestHoldMode(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 11, 23, 10, 0, 30, 0, time.UTC)}
	e := quotaEnv(t, clk, ratelimit.Limit{Period: ratelimit.Minute, Messages: 1, Mode: ratelimit.ModeHold})
	if err := e.sendN(1); err != nil {
		t.Fatal(err)
	}
	c := e.dial(smtpd.Submissions)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	text, err := send(c, "app@example.test", []string{"a@example.test"}, testMsg)
	if err != nil || !strings.Contains(text, "held by a rate limit until 2026-11-23T10:01:00Z") {
		t.Fatalf("held message: %q %v", text, err)
	}
	ctx := context.Background()
	next := func(int) time.Time { return clk.Now().Add(time.Hour) }
	claims, _ := e.store.ClaimDue(ctx, clk.Now(), 10, next)
	if len(claims) != 1 {
		t.Fatalf("%d due before the window opens, want only the first", len(claims))
	}
	claims, _ = e.store.ClaimDue(ctx, time.Date(2026, 11, 23, 10, 1, 0, 0, time.UTC), 10, next)
	if len(claims) != 1 {
		t.Fatalf("held message not released when the window opened: %d", len(claims))
	}
}

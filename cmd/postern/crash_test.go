package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/store/sqlite"
)

var ackRE = regexp.MustCompile(`queued as ([0-9a-v]{26})`)

// TestCrashKeepsAcknowledged kills `postern serve` with SIGKILL while many
// sessions submit, several times over. After the last restart every
// message that got a 250 is in the queue with its content intact.
func TestCrashKeepsAcknowledged(t *testing.T) {
	in := newInstance(t, 0)
	in.start()
	in.mustCLI("user", "create", "acme")
	in.trust("acme", "example.test")
	key := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme"))
	pem, err := os.ReadFile(in.certPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tlsCfg := &tls.Config{RootCAs: pool, ServerName: "localhost"}

	var mu sync.Mutex
	acked := map[string]string{} // queue id → the unique line sent in its body
	var seq int
	const rounds, workers = 3, 8
	for round := 0; round < rounds; round++ {
		if round > 0 {
			in.start()
		}
		addr := in.addr("submissions")
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					c, err := smtp.DialTLS(addr, tlsCfg)
					if err != nil {
						return // the server is gone
					}
					if err := c.Auth(sasl.NewPlainClient("", "apikey", key)); err != nil {
						c.Close()
						return
					}
					for {
						mu.Lock()
						seq++
						marker := fmt.Sprintf("crash-marker-%06d", seq)
						mu.Unlock()
						text, err := sendOne(c, marker)
						var se *smtp.SMTPError
						if errors.As(err, &se) {
							t.Errorf("refused: %v", err)
							c.Close()
							return
						}
						if err != nil {
							c.Close()
							break // killed mid-transaction: not acknowledged
						}
						m := ackRE.FindStringSubmatch(text)
						if m == nil {
							t.Errorf("250 without id: %q", text)
							c.Close()
							return
						}
						mu.Lock()
						acked[m[1]] = marker
						mu.Unlock()
					}
				}
			}()
		}
		// Kill at a moment that varies with the round, mid-stream.
		time.Sleep(time.Duration(400+round*170) * time.Millisecond)
		in.kill()
		close(stop)
		wg.Wait()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < rounds {
		t.Fatalf("only %d messages acknowledged; the test did not load the server", len(acked))
	}

	// The server starts again on the crashed data (WAL recovery) and the
	// CLI lists every acknowledged message.
	in.start()
	list := in.mustCLI("queue", "list")

	// Delivery resumes: the receiver ends with every acknowledged message
	// (at least once; one in flight at a crash may arrive twice).
	want := map[string]bool{}
	for _, marker := range acked {
		want[marker] = true
	}
	deadline := time.Now().Add(90 * time.Second)
	var missing []string
	dups := 0
	for {
		seen := map[string]int{}
		for _, m := range in.sink.Messages() {
			if i := strings.Index(string(m.Body), "crash-marker-"); i >= 0 {
				seen[string(m.Body[i:i+len("crash-marker-000000")])]++
			}
		}
		missing, dups = missing[:0], 0
		for marker := range want {
			switch n := seen[marker]; {
			case n == 0:
				missing = append(missing, marker)
			case n > 1:
				dups += n - 1
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	in.stop()
	if len(missing) > 0 {
		t.Errorf("%d acknowledged messages never reached the receiver, e.g. %v", len(missing), missing[:min(5, len(missing))])
	}
	t.Logf("receiver got every acknowledged message; %d duplicate deliveries (in flight at a crash)", dups)
	for id := range acked {
		if !strings.Contains(list, id) {
			t.Errorf("acknowledged %s missing from queue list", id)
		}
	}
	// And each body is intact: the marker, and the body's exact tail.
	st, err := sqlite.Open(context.Background(), filepath.Join(in.dir, "data", "postern.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for id, marker := range acked {
		body, err := st.MessageBody(context.Background(), id)
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		if !strings.HasSuffix(string(body), "\r\n\r\n"+crashBody(marker)) {
			t.Errorf("%s: body not intact: %q", id, body)
		}
	}
	t.Logf("%d messages acknowledged over %d crashes, all present and intact", len(acked), rounds)
}

func crashBody(marker string) string {
	return marker + "\r\n" + strings.Repeat(strings.Repeat("0123456789abcdef", 4)+"\r\n", 16)
}

func sendOne(c *smtp.Client, marker string) (string, error) {
	if err := c.Mail("app@example.test", nil); err != nil {
		return "", err
	}
	if err := c.Rcpt("crash@example.test", nil); err != nil {
		return "", err
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	if _, err := w.Write([]byte("From: app@example.test\r\nSubject: " + marker + "\r\n\r\n" + crashBody(marker))); err != nil {
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	return resp.StatusText, nil
}

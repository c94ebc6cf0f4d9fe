package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/postern/postern/internal/store"
)

// UpdateCounters reads the subjects' live counters, lets fn decide, and
// adds its changes, in one write transaction. SQLite's write transactions
// run one at a time already; PostgreSQL's take the dialect's per-subject
// locks first, so that a node deciding on a key's counts sees every
// reservation committed before and none lands between its read and its
// write.
func (db *DB) UpdateCounters(ctx context.Context, subjects []string, now time.Time, fn func([]store.Counter) ([]store.Counter, error)) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: counters: %w", err)
	}
	defer tx.Rollback()
	if db.d.LockCounters != nil && len(subjects) > 0 {
		if err := db.d.LockCounters(ctx, tx, subjects); err != nil {
			return fmt.Errorf("store: counters: lock: %w", err)
		}
	}
	current, err := db.counters(ctx, tx, subjects, now)
	if err != nil {
		return err
	}
	changes, err := fn(current)
	if err != nil {
		return err
	}
	// Additions in one statement (a reservation: four periods for each of
	// two or three subjects); give-backs, rare, one by one.
	// One row may be named once per statement: changes to the same
	// window are summed first.
	var add []store.Counter
	at := map[[3]string]int{}
	for _, c := range changes {
		if c.Messages <= 0 && c.Recipients <= 0 {
			continue
		}
		c.Messages, c.Recipients = max(c.Messages, 0), max(c.Recipients, 0)
		k := [3]string{c.Subject, c.Period, fmt.Sprint(micros(c.Start))}
		if i, ok := at[k]; ok {
			add[i].Messages += c.Messages
			add[i].Recipients += c.Recipients
			continue
		}
		at[k] = len(add)
		add = append(add, c)
	}
	if len(add) > 0 {
		q := `INSERT INTO counters (subject, period, window_start, window_end, messages, recipients) VALUES (?, ?, ?, ?, ?, ?)` +
			strings.Repeat(`, (?, ?, ?, ?, ?, ?)`, len(add)-1) + `
			ON CONFLICT (subject, period, window_start) DO UPDATE SET
				messages = counters.messages + excluded.messages,
				recipients = counters.recipients + excluded.recipients`
		args := make([]any, 0, 6*len(add))
		for _, c := range add {
			args = append(args, c.Subject, c.Period, micros(c.Start), micros(c.End), max(c.Messages, 0), max(c.Recipients, 0))
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("store: counters: %w", err)
		}
	}
	for _, c := range changes {
		if c.Messages >= 0 && c.Recipients >= 0 {
			continue
		}
		// A give-back to a window nobody counted in creates nothing.
		if _, err := tx.ExecContext(ctx, `UPDATE counters SET
				messages = CASE WHEN messages + ? > 0 THEN messages + ? ELSE 0 END,
				recipients = CASE WHEN recipients + ? > 0 THEN recipients + ? ELSE 0 END
			WHERE subject = ? AND period = ? AND window_start = ?`,
			min(c.Messages, 0), min(c.Messages, 0), min(c.Recipients, 0), min(c.Recipients, 0),
			c.Subject, c.Period, micros(c.Start)); err != nil {
			return fmt.Errorf("store: counters: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: counters: commit: %w", err)
	}
	return nil
}

// Counters reads the subjects' live counters, taking no lock.
func (db *DB) Counters(ctx context.Context, subjects []string, now time.Time) ([]store.Counter, error) {
	return db.counters(ctx, db.r, subjects, now)
}

func (db *DB) counters(ctx context.Context, q querier, subjects []string, now time.Time) ([]store.Counter, error) {
	if len(subjects) == 0 {
		return nil, nil
	}
	args := []any{micros(now)}
	for _, s := range subjects {
		args = append(args, s)
	}
	return queryAll(ctx, q, "counters", scanCounter,
		`SELECT subject, period, window_start, window_end, messages, recipients FROM counters
		WHERE window_end > ? AND subject IN (?`+strings.Repeat(`, ?`, len(subjects)-1)+`)
		ORDER BY subject, period, window_start`, args...)
}

func scanCounter(r rowScanner) (store.Counter, error) {
	var c store.Counter
	var start, end int64
	err := r.Scan(&c.Subject, &c.Period, &start, &end, &c.Messages, &c.Recipients)
	c.Start, c.End = fromMicros(start), fromMicros(end)
	return c, err
}

// DeleteCounters removes the counters of ended windows.
func (db *DB) DeleteCounters(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM counters WHERE window_end <= ?`, micros(now))
	if err != nil {
		return 0, fmt.Errorf("store: delete counters: %w", err)
	}
	return res.RowsAffected()
}

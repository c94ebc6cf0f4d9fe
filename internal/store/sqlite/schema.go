package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations is the schema's history: migrations[i] takes the database to
// version i+1. Append only; never edit an entry that has shipped.
//
// Timestamps are BIGINT microseconds since the Unix epoch. Recipients have
// their own table, so that delivery can keep state per recipient.
var migrations = []string{
	// 1: users, API keys, the queue.
	`CREATE TABLE users (
		id         INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL UNIQUE,
		parent_id  INTEGER REFERENCES users(id),
		created_at BIGINT  NOT NULL
	);
	CREATE TABLE api_keys (
		id         TEXT    PRIMARY KEY,
		user_id    INTEGER NOT NULL REFERENCES users(id),
		name       TEXT    NOT NULL,
		scopes     TEXT    NOT NULL,
		hash       BLOB    NOT NULL,
		created_at BIGINT  NOT NULL,
		revoked_at BIGINT
	);
	CREATE INDEX api_keys_user ON api_keys(user_id, created_at, id);
	CREATE INDEX api_keys_created ON api_keys(created_at, id);
	CREATE TABLE messages (
		id         TEXT    PRIMARY KEY,
		user_id    INTEGER NOT NULL REFERENCES users(id),
		key_id     TEXT    NOT NULL,
		mail_from  TEXT    NOT NULL,
		size       BIGINT  NOT NULL,
		state      TEXT    NOT NULL,
		created_at BIGINT  NOT NULL,
		body       BLOB    NOT NULL
	);
	CREATE INDEX messages_created ON messages(created_at, id);
	CREATE TABLE message_recipients (
		message_id TEXT    NOT NULL REFERENCES messages(id),
		idx        INTEGER NOT NULL,
		address    TEXT    NOT NULL,
		PRIMARY KEY (message_id, idx)
	);`,
	// 2: delivery — schedule, per-recipient state, events, suppression.
	`ALTER TABLE messages ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE messages ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0;
	CREATE INDEX messages_due ON messages(state, next_attempt_at);
	ALTER TABLE message_recipients ADD COLUMN state TEXT NOT NULL DEFAULT 'pending';
	ALTER TABLE message_recipients ADD COLUMN last_result TEXT NOT NULL DEFAULT '';
	ALTER TABLE message_recipients ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
	CREATE TABLE events (
		id         INTEGER PRIMARY KEY,
		message_id TEXT    NOT NULL REFERENCES messages(id),
		recipient  TEXT    NOT NULL,
		type       TEXT    NOT NULL,
		detail     TEXT    NOT NULL,
		at         BIGINT  NOT NULL
	);
	CREATE INDEX events_message ON events(message_id, id);
	CREATE TABLE suppressions (
		user_id    INTEGER NOT NULL REFERENCES users(id),
		address    TEXT    NOT NULL,
		reason     TEXT    NOT NULL,
		created_at BIGINT  NOT NULL,
		PRIMARY KEY (user_id, address)
	);`,
	// 3: abuse controls — suspension, privacy switch, IP allow-lists.
	`ALTER TABLE users ADD COLUMN suspended_at BIGINT;
	ALTER TABLE users ADD COLUMN suspend_reason TEXT NOT NULL DEFAULT '';
	ALTER TABLE users ADD COLUMN hide_originating_ip INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE api_keys ADD COLUMN allow_ips TEXT NOT NULL DEFAULT '';
	CREATE TABLE ip_allowlist (
		account_id INTEGER NOT NULL REFERENCES users(id),
		prefix     TEXT    NOT NULL,
		created_at BIGINT  NOT NULL,
		PRIMARY KEY (account_id, prefix)
	);`,
	// 4: rate-limit overrides; usage is counted from messages.
	`CREATE TABLE limits (
		kind       TEXT    NOT NULL,
		subject    TEXT    NOT NULL,
		period     TEXT    NOT NULL,
		messages   BIGINT  NOT NULL,
		recipients BIGINT  NOT NULL,
		mode       TEXT    NOT NULL,
		PRIMARY KEY (kind, subject, period)
	);
	CREATE INDEX messages_user_created ON messages(user_id, created_at);`,
	// 5: per-user spam threshold.
	`ALTER TABLE users ADD COLUMN spam_threshold REAL NOT NULL DEFAULT 0;`,
	// 6: sending domains with their DKIM keys.
	`CREATE TABLE domains (
		name         TEXT    PRIMARY KEY,
		user_id      INTEGER NOT NULL REFERENCES users(id),
		state        TEXT    NOT NULL,
		rsa_selector TEXT    NOT NULL,
		rsa_key      BLOB    NOT NULL,
		ed_selector  TEXT    NOT NULL,
		ed_key       BLOB    NOT NULL,
		created_at   BIGINT  NOT NULL,
		verified_at  BIGINT
	);`,
	// 7: DKIM key rotation.
	`ALTER TABLE domains ADD COLUMN next_rsa_selector TEXT NOT NULL DEFAULT '';
	ALTER TABLE domains ADD COLUMN next_rsa_key BLOB NOT NULL DEFAULT x'';
	ALTER TABLE domains ADD COLUMN next_ed_selector TEXT NOT NULL DEFAULT '';
	ALTER TABLE domains ADD COLUMN next_ed_key BLOB NOT NULL DEFAULT x'';
	ALTER TABLE domains ADD COLUMN prev_selectors TEXT NOT NULL DEFAULT '';
	ALTER TABLE domains ADD COLUMN rotated_at BIGINT;`,
	// 8: single senders.
	`CREATE TABLE senders (
		user_id     INTEGER NOT NULL REFERENCES users(id),
		address     TEXT    NOT NULL,
		verified    INTEGER NOT NULL,
		by_operator INTEGER NOT NULL,
		code_hash   BLOB    NOT NULL,
		expires_at  BIGINT  NOT NULL,
		created_at  BIGINT  NOT NULL,
		verified_at BIGINT,
		PRIMARY KEY (user_id, address)
	);
	CREATE INDEX senders_code ON senders(code_hash);`,
	// 9: installation secrets (the return-path token key), a history per
	// domain, domains shared within an account, and whether a domain's
	// return-path MX is published. Domains an account
	// already had were usable by its subusers: they stay shared.
	`CREATE TABLE secrets (
		name       TEXT    PRIMARY KEY,
		value      BLOB    NOT NULL,
		created_at BIGINT  NOT NULL
	);
	CREATE TABLE domain_events (
		id     INTEGER PRIMARY KEY,
		domain TEXT    NOT NULL,
		type   TEXT    NOT NULL,
		detail TEXT    NOT NULL,
		at     BIGINT  NOT NULL
	);
	CREATE INDEX domain_events_domain ON domain_events(domain, id);
	ALTER TABLE domains ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE domains ADD COLUMN return_path INTEGER NOT NULL DEFAULT 0;
	UPDATE domains SET shared = 1 WHERE user_id IN (SELECT id FROM users WHERE parent_id IS NULL);`,
	// 10: a message's metadata (categories, custom args, batch id) as
	// JSON, from X-SMTPAPI or the HTTP send API.
	`ALTER TABLE messages ADD COLUMN meta TEXT NOT NULL DEFAULT '';`,
	// 11: single senders shared within an account, as domains are
	// (issue 12, finding 10). Unlike migration 9's domains, the senders
	// an account already has are not shared: a subuser using its
	// account's was the flaw, and the operator shares on purpose.
	`ALTER TABLE senders ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;
	CREATE INDEX senders_address ON senders(address);`,
	// 12: suppressions get a kind, SendGrid's lists (an address may be on
	// several); IP allow-list entries get an id and an update time, for
	// the management API. The kind of an existing entry is derived from
	// how it was added: delivery wrote its result ("permanent failure…"),
	// bounce processing "bounce …"; anything else came from the
	// operator's "suppression add", a global unsubscribe.
	`CREATE TABLE suppressions_v12 (
		user_id    INTEGER NOT NULL REFERENCES users(id),
		address    TEXT    NOT NULL,
		kind       TEXT    NOT NULL,
		reason     TEXT    NOT NULL,
		created_at BIGINT  NOT NULL,
		PRIMARY KEY (user_id, address, kind)
	);
	INSERT INTO suppressions_v12 (user_id, address, kind, reason, created_at)
		SELECT user_id, address,
			CASE WHEN reason GLOB 'permanent failure*' OR reason GLOB 'bounce *' THEN 'bounce' ELSE 'unsubscribe' END,
			reason, created_at
		FROM suppressions;
	DROP TABLE suppressions;
	ALTER TABLE suppressions_v12 RENAME TO suppressions;
	CREATE INDEX suppressions_kind ON suppressions(user_id, kind, address);
	CREATE TABLE ip_allowlist_v12 (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		account_id INTEGER NOT NULL REFERENCES users(id),
		prefix     TEXT    NOT NULL,
		created_at BIGINT  NOT NULL,
		updated_at BIGINT  NOT NULL,
		UNIQUE (account_id, prefix)
	);
	INSERT INTO ip_allowlist_v12 (account_id, prefix, created_at, updated_at)
		SELECT account_id, prefix, created_at, created_at FROM ip_allowlist ORDER BY created_at, prefix;
	DROP TABLE ip_allowlist;
	ALTER TABLE ip_allowlist_v12 RENAME TO ip_allowlist;`,
	// 13: domains and single senders get ids that are never reused
	// (SendGrid's integer ids, for the management API); a sender keeps
	// SendGrid's profile (nickname, from name, reply-to); a domain knows
	// which DKIM key its owner brought, and whether the record of the
	// generated key beside it has been found. Ids follow creation order.
	`CREATE TABLE domains_v13 (
		id                  INTEGER PRIMARY KEY AUTOINCREMENT,
		name                TEXT    NOT NULL UNIQUE,
		user_id             INTEGER NOT NULL REFERENCES users(id),
		state               TEXT    NOT NULL,
		rsa_selector        TEXT    NOT NULL,
		rsa_key             BLOB    NOT NULL,
		ed_selector         TEXT    NOT NULL,
		ed_key              BLOB    NOT NULL,
		created_at          BIGINT  NOT NULL,
		verified_at         BIGINT,
		next_rsa_selector   TEXT    NOT NULL DEFAULT '',
		next_rsa_key        BLOB    NOT NULL DEFAULT x'',
		next_ed_selector    TEXT    NOT NULL DEFAULT '',
		next_ed_key         BLOB    NOT NULL DEFAULT x'',
		prev_selectors      TEXT    NOT NULL DEFAULT '',
		rotated_at          BIGINT,
		shared              INTEGER NOT NULL DEFAULT 0,
		return_path         INTEGER NOT NULL DEFAULT 0,
		brought_key         TEXT    NOT NULL DEFAULT '',
		companion_published INTEGER NOT NULL DEFAULT 0
	);
	INSERT INTO domains_v13 (name, user_id, state, rsa_selector, rsa_key, ed_selector, ed_key, created_at, verified_at,
			next_rsa_selector, next_rsa_key, next_ed_selector, next_ed_key, prev_selectors, rotated_at, shared, return_path)
		SELECT name, user_id, state, rsa_selector, rsa_key, ed_selector, ed_key, created_at, verified_at,
			next_rsa_selector, next_rsa_key, next_ed_selector, next_ed_key, prev_selectors, rotated_at, shared, return_path
		FROM domains ORDER BY created_at, name;
	DROP TABLE domains;
	ALTER TABLE domains_v13 RENAME TO domains;
	CREATE INDEX domains_user ON domains(user_id, name);
	CREATE TABLE senders_v13 (
		id            INTEGER PRIMARY KEY AUTOINCREMENT,
		user_id       INTEGER NOT NULL REFERENCES users(id),
		address       TEXT    NOT NULL,
		verified      INTEGER NOT NULL,
		by_operator   INTEGER NOT NULL,
		code_hash     BLOB    NOT NULL,
		expires_at    BIGINT  NOT NULL,
		created_at    BIGINT  NOT NULL,
		verified_at   BIGINT,
		shared        INTEGER NOT NULL DEFAULT 0,
		nickname      TEXT    NOT NULL DEFAULT '',
		from_name     TEXT    NOT NULL DEFAULT '',
		reply_to      TEXT    NOT NULL DEFAULT '',
		reply_to_name TEXT    NOT NULL DEFAULT '',
		UNIQUE (user_id, address)
	);
	INSERT INTO senders_v13 (user_id, address, verified, by_operator, code_hash, expires_at, created_at, verified_at, shared)
		SELECT user_id, address, verified, by_operator, code_hash, expires_at, created_at, verified_at, shared
		FROM senders ORDER BY created_at, user_id, address;
	DROP TABLE senders;
	ALTER TABLE senders_v13 RENAME TO senders;
	CREATE INDEX senders_code ON senders(code_hash);
	CREATE INDEX senders_address ON senders(address);`,
	// 14: a user's profile as SendGrid's subusers have it (contact
	// address, console password as a bcrypt hash), and deletion: a
	// deleted user's row stays, for the messages and events that name
	// it, but it is no longer found and its name stays taken.
	`ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
	ALTER TABLE users ADD COLUMN password_hash BLOB NOT NULL DEFAULT x'';
	ALTER TABLE users ADD COLUMN deleted_at BIGINT;
	CREATE INDEX users_parent ON users(parent_id, name);`,
	// 15: rate-limit counters in the store (issue 13), for the drivers
	// whose nodes share them; one row per subject, period and window.
	`CREATE TABLE counters (
		subject      TEXT    NOT NULL,
		period       TEXT    NOT NULL,
		window_start BIGINT  NOT NULL,
		window_end   BIGINT  NOT NULL,
		messages     BIGINT  NOT NULL,
		recipients   BIGINT  NOT NULL,
		PRIMARY KEY (subject, period, window_start)
	);
	CREATE INDEX counters_end ON counters(window_end);`,
	// 16: leases for the jobs one node at a time runs; a message's
	// recipient count and purge time, so that retention can remove its
	// body and recipients and usage still counts it.
	`CREATE TABLE leases (
		name       TEXT    PRIMARY KEY,
		holder     TEXT    NOT NULL,
		expires_at BIGINT  NOT NULL
	);
	ALTER TABLE messages ADD COLUMN rcpt_count INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE messages ADD COLUMN purged_at BIGINT;
	UPDATE messages SET rcpt_count = (SELECT COUNT(*) FROM message_recipients r WHERE r.message_id = messages.id);
	CREATE INDEX messages_finished ON messages(state, created_at);`,
	// 17: event webhooks and their outbox (issue 15): a row per event and
	// webhook, written with the event.
	`CREATE TABLE webhooks (
		id              TEXT    PRIMARY KEY,
		user_id         INTEGER NOT NULL REFERENCES users(id),
		url             TEXT    NOT NULL,
		enabled         INTEGER NOT NULL,
		friendly_name   TEXT    NOT NULL DEFAULT '',
		events          TEXT    NOT NULL,
		signed          INTEGER NOT NULL DEFAULT 0,
		private_key     BLOB    NOT NULL DEFAULT x'',
		created_at      BIGINT  NOT NULL,
		updated_at      BIGINT  NOT NULL,
		last_success_at BIGINT,
		last_error      TEXT    NOT NULL DEFAULT '',
		last_error_at   BIGINT
	);
	CREATE INDEX webhooks_user ON webhooks(user_id, created_at);
	CREATE TABLE webhook_outbox (
		id              INTEGER PRIMARY KEY AUTOINCREMENT,
		webhook_id      TEXT    NOT NULL REFERENCES webhooks(id),
		event_id        INTEGER NOT NULL REFERENCES events(id),
		next_attempt_at BIGINT  NOT NULL,
		attempts        INTEGER NOT NULL DEFAULT 0,
		created_at      BIGINT  NOT NULL
	);
	CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_at, id);
	CREATE INDEX webhook_outbox_hook ON webhook_outbox(webhook_id);`,
	// 18: the user's one-click unsubscribe switch (issue 15): off until
	// the user turns it on.
	`ALTER TABLE users ADD COLUMN list_unsubscribe INTEGER NOT NULL DEFAULT 0;`,
}

// migrate brings the database up to len(migrations), each migration in its
// own transaction. A migration already recorded is skipped, so reopening
// changes nothing; a database newer than this code is refused.
func migrate(ctx context.Context, db *sql.DB, now time.Time) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var latest sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&latest); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if latest.Int64 > int64(len(migrations)) {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", latest.Int64, len(migrations))
	}
	for i, m := range migrations {
		if err := applyMigration(ctx, db, i+1, m, now); err != nil {
			return fmt.Errorf("migrate: version %d: %w", i+1, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, version int, stmts string, now time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Checked inside the transaction, which holds the write lock: another
	// process opening the same file at once cannot apply it twice.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, stmts); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, micros(now)); err != nil {
		return err
	}
	return tx.Commit()
}

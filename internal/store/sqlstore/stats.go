package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/postern/postern/internal/store"
)

// EventCounts counts the events of the users' messages per UTC day, user,
// type and, for bounces, detail; DSNs (null sender) are left out.
func (db *DB) EventCounts(ctx context.Context, userIDs []int64, since, until time.Time) ([]store.DayCount, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	args := []any{string(store.EventBounced), micros(since), micros(until)}
	for _, id := range userIDs {
		args = append(args, id)
	}
	return queryAll(ctx, db.r, "event counts", scanDayCount(), `SELECT (e.at / 86400000000) * 86400000000 AS day, m.user_id, '', e.type,
			CASE WHEN e.type = ? THEN e.detail ELSE '' END AS detail, COUNT(*)
		FROM events e
		JOIN messages m ON m.id = e.message_id
		WHERE e.at >= ? AND e.at < ? AND m.mail_from <> ''
			AND m.user_id IN (?`+strings.Repeat(`, ?`, len(userIDs)-1)+`)
		GROUP BY 1, 2, 4, 5
		ORDER BY 1, 2, 4, 5`, args...)
}

// CategoryEventCounts counts the events of the user's messages of the
// categories per UTC day, category, type and, for bounces, detail.
func (db *DB) CategoryEventCounts(ctx context.Context, userID int64, categories []string, since, until time.Time) ([]store.DayCount, error) {
	if len(categories) == 0 {
		return nil, nil
	}
	args := []any{string(store.EventBounced), micros(since), micros(until), userID}
	for _, c := range categories {
		args = append(args, c)
	}
	return queryAll(ctx, db.r, "category event counts", scanDayCount(), `SELECT (e.at / 86400000000) * 86400000000 AS day, m.user_id, c.value, e.type,
			CASE WHEN e.type = ? THEN e.detail ELSE '' END AS detail, COUNT(*)
		FROM events e
		JOIN messages m ON m.id = e.message_id
		`+db.d.Categories+`
		WHERE e.at >= ? AND e.at < ? AND m.mail_from <> '' AND m.user_id = ?
			AND c.value IN (?`+strings.Repeat(`, ?`, len(categories)-1)+`)
		GROUP BY 1, 2, 3, 4, 5
		ORDER BY 1, 3, 4, 5`, args...)
}

func scanDayCount() func(r rowScanner) (store.DayCount, error) {
	return func(r rowScanner) (c store.DayCount, err error) {
		var day int64
		var typ string
		err = r.Scan(&day, &c.UserID, &c.Category, &typ, &c.Detail, &c.Count)
		c.Day, c.Type = fromMicros(day), store.EventType(typ)
		return c, err
	}
}

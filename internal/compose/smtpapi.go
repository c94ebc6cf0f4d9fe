package compose

import (
	"encoding/json"
	"time"
)

// MaxSMTPAPIBytes bounds an X-SMTPAPI header value.
const MaxSMTPAPIBytes = 64 << 10

// ParseSMTPAPI parses the value of an X-SMTPAPI header field (SendGrid's
// SMTP API), unfolded, into Meta:
//
//   - "category": a string or an array of strings (Meta.Categories, with
//     the limits of the API's categories);
//   - "unique_args": an object of strings (Meta.CustomArgs, at most
//     MaxCustomArgsBytes);
//   - "send_at": unix seconds (Meta.SendAt, UTC; pass it through
//     CheckSendAt, which needs the current time);
//   - "asm_group_id": a positive integer (Meta.ASMGroupID);
//   - "batch_id": a string (Meta.BatchID);
//   - "filters", "ip_pool" and "asm_groups_to_display": accepted and
//     ignored.
//
// "to", "sub", "section" and "send_each_at" are refused: Postern does not
// expand one SMTP message into many. So is any other key. Every problem is
// reported in a *Errors whose fields are the header's JSON keys
// ("unique_args.order", "category.2").
func ParseSMTPAPI(value string) (Meta, error) {
	var errs Errors
	if len(value) > MaxSMTPAPIBytes {
		errs.addf("", "X-SMTPAPI header is over %d bytes", MaxSMTPAPIBytes)
		return Meta{}, &errs
	}
	var m Meta
	var cats []string
	r := newJReader([]byte(value), "X-SMTPAPI header", &errs)
	top := r.object("", func(key, path string) {
		switch key {
		case "category":
			cats = r.stringOrList(path)
		case "unique_args":
			m.CustomArgs, _ = r.strMap(path, MaxCustomArgsBytes)
		case "send_at":
			if n, ok := r.integer(path); ok {
				if n <= 0 {
					errs.add(path, "must be a unix time in seconds")
				} else {
					m.SendAt = time.Unix(n, 0).UTC()
				}
			}
		case "asm_group_id":
			if n, ok := r.integer(path); ok {
				if n <= 0 {
					errs.add(path, "must be a positive integer")
				}
				m.ASMGroupID = n
			}
		case "batch_id":
			m.BatchID, _ = r.str(path)
			checkBatchID(path, m.BatchID, &errs)
		case "filters":
			r.object(path, func(string, string) { r.skip() })
		case "ip_pool":
			r.str(path)
		case "asm_groups_to_display":
			n, _ := r.array(path, MaxGroupsToDisplay, func(i int, path string) { r.integer(path) })
			if n > MaxGroupsToDisplay {
				errs.addf(path, "may have at most %d groups", MaxGroupsToDisplay)
			}
		case "to", "sub", "section", "send_each_at":
			errs.add(path, "is not supported by Postern: send one message per recipient list, or use the mail send API's personalizations")
			r.skip()
		default:
			r.unknown(path)
		}
	})
	r.end()
	if !r.bad && !top && len(errs) == 0 {
		errs.add("", "X-SMTPAPI header must be a JSON object")
	}
	if len(cats) > MaxCategories {
		errs.addf("category", "may have at most %d items", MaxCategories)
	} else {
		m.Categories = checkCategories("category", cats, &errs)
	}
	checkArgs("unique_args", m.CustomArgs, &errs)
	checkMapBytes("unique_args", m.CustomArgs, MaxCustomArgsBytes, &errs)
	if err := errs.err(); err != nil {
		return Meta{}, err
	}
	if len(m.CustomArgs) == 0 {
		m.CustomArgs = nil
	}
	return m, nil
}

// stringOrList reads a string or an array of strings, keeping at most
// MaxCategories+1.
func (r *jreader) stringOrList(path string) []string {
	t, ok := r.token()
	if !ok || t == nil {
		return nil
	}
	if s, ok := t.(string); ok {
		return []string{s}
	}
	if t != json.Delim('[') {
		r.mismatch(path, "a string or an array of strings", t)
		return nil
	}
	var list []string
	if !r.enter() {
		return nil
	}
	for i := 0; !r.bad && r.dec.More(); i++ {
		if i > MaxCategories {
			r.skip()
			continue
		}
		s, _ := r.str(join(path, itoa(i)))
		list = append(list, s)
	}
	if _, ok := r.token(); !ok {
		return nil
	}
	r.depth--
	return list
}

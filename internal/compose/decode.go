package compose

import "fmt"

// Decode parses body, the JSON of POST /v3/mail/send, strictly: every
// field must have SendGrid's type, an unknown or unsupported field is
// refused with its path, a key may not repeat, nesting is at most MaxDepth
// and the counts and sizes of the Max constants hold. JSON null counts as
// "not given". A bad request yields a *Errors listing every problem found;
// its content (addresses, types, base64) is checked by Build.
func Decode(body []byte) (*Request, error) {
	var errs Errors
	if len(body) > MaxRequestBytes {
		errs.addf("", "request body is over %d bytes", MaxRequestBytes)
		return nil, &errs
	}
	r := newJReader(body, "request body", &errs)
	req := new(Request)
	fromGiven, persGiven := false, false
	top := r.object("", func(key, path string) {
		switch key {
		case "personalizations":
			before := len(errs)
			_, ok := r.array(path, MaxPersonalizations+1, func(i int, path string) {
				req.Personalizations = append(req.Personalizations, r.personalization(path))
			})
			persGiven = ok || len(errs) > before
		case "from":
			before := len(errs)
			a, ok := r.address(path)
			fromGiven = ok || len(errs) > before
			if a != nil {
				req.From = *a
			}
		case "reply_to":
			req.ReplyTo, _ = r.address(path)
		case "reply_to_list":
			req.ReplyToList = r.addressList(path, MaxReplyTo)
		case "subject":
			req.Subject, _ = r.str(path)
		case "content":
			r.array(path, MaxContent+1, func(i int, path string) {
				req.Content = append(req.Content, r.content(path))
			})
		case "attachments":
			r.array(path, MaxAttachments+1, func(i int, path string) {
				req.Attachments = append(req.Attachments, r.attachment(path))
			})
		case "headers":
			req.Headers = r.headers(path)
		case "categories":
			r.array(path, MaxCategories+1, func(i int, path string) {
				c, _ := r.str(path)
				req.Categories = append(req.Categories, c)
			})
		case "custom_args":
			req.CustomArgs = r.customArgs(path)
		case "send_at":
			req.SendAt, _ = r.integer(path)
		case "batch_id":
			req.BatchID, _ = r.str(path)
		case "asm":
			req.ASM = r.asm(path)
		case "mail_settings":
			req.MailSettings = r.mailSettings(path)
		case "tracking_settings":
			r.ignoredObject(path, "click_tracking", "open_tracking", "subscription_tracking", "ganalytics")
		case "ip_pool_name":
			r.str(path)
		case "template_id":
			if s, _ := r.str(path); s != "" {
				errs.add(path, "templates are not supported by Postern; send subject and content instead")
			}
		case "dynamic_template_data":
			r.refuseTemplateData(path)
		default:
			r.unknown(path)
		}
	})
	r.end()
	if !r.bad {
		switch {
		case !top:
			if len(errs) == 0 {
				errs.add("", "request body must be a JSON object")
			}
		default:
			if !persGiven {
				errs.add("personalizations", "is required")
			}
			if !fromGiven {
				errs.add("from", "is required")
			}
		}
		checkLimits(req, &errs)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return req, nil
}

func (r *jreader) personalization(path string) Personalization {
	var p Personalization
	toGiven := false
	before := len(*r.errs)
	if !r.object(path, func(key, path string) {
		switch key {
		case "from":
			p.From, _ = r.address(path)
		case "to":
			before := len(*r.errs)
			p.To = r.addressList(path, MaxRecipients)
			toGiven = p.To != nil || len(*r.errs) > before
		case "cc":
			p.Cc = r.addressList(path, MaxRecipients)
		case "bcc":
			p.Bcc = r.addressList(path, MaxRecipients)
		case "subject":
			p.Subject, _ = r.str(path)
		case "headers":
			p.Headers = r.headers(path)
		case "substitutions":
			p.Substitutions = r.substitutions(path)
		case "custom_args":
			p.CustomArgs = r.customArgs(path)
		case "send_at":
			p.SendAt, _ = r.integer(path)
		case "dynamic_template_data":
			r.refuseTemplateData(path)
		default:
			r.unknown(path)
		}
	}) {
		if !r.bad && len(*r.errs) == before {
			r.errs.add(path, "must be an object")
		}
		return p
	}
	if !toGiven && !r.bad {
		r.errs.add(path+".to", "is required")
	}
	return p
}

// address reads {email, name}; the bool says whether an object was given.
func (r *jreader) address(path string) (*Address, bool) {
	var a Address
	email := false
	if !r.object(path, func(key, path string) {
		switch key {
		case "email":
			before := len(*r.errs)
			a.Email, email = r.str(path)
			email = email || len(*r.errs) > before
		case "name":
			a.Name, _ = r.str(path)
		default:
			r.unknown(path)
		}
	}) {
		return nil, false
	}
	if !email {
		r.errs.add(path+".email", "is required")
	}
	return &a, true
}

// addressList reads an array of addresses, keeping at most keep+1 so that
// checkLimits can tell the list is too long. A given list is never nil.
func (r *jreader) addressList(path string, keep int) []Address {
	list := []Address{}
	_, ok := r.array(path, keep+1, func(i int, path string) {
		a, _ := r.address(path)
		if a == nil {
			a = &Address{}
		}
		list = append(list, *a)
	})
	if !ok {
		return nil
	}
	return list
}

func (r *jreader) content(path string) Content {
	var c Content
	r.object(path, func(key, path string) {
		switch key {
		case "type":
			c.Type, _ = r.str(path)
		case "value":
			c.Value, _ = r.str(path)
		default:
			r.unknown(path)
		}
	})
	return c
}

func (r *jreader) attachment(path string) Attachment {
	var a Attachment
	r.object(path, func(key, path string) {
		switch key {
		case "content":
			a.Content, _ = r.str(path)
		case "type":
			a.Type, _ = r.str(path)
		case "filename":
			a.Filename, _ = r.str(path)
		case "disposition":
			a.Disposition, _ = r.str(path)
		case "content_id":
			a.ContentID, _ = r.str(path)
		default:
			r.unknown(path)
		}
	})
	return a
}

func (r *jreader) headers(path string) map[string]string {
	m, _ := r.strMap(path, MaxHeaders+1)
	return m
}

func (r *jreader) customArgs(path string) map[string]string {
	m, _ := r.strMap(path, MaxCustomArgsBytes)
	return m
}

func (r *jreader) substitutions(path string) map[string]string {
	m, _ := r.strMap(path, MaxSubstitutionsBytes)
	return m
}

func (r *jreader) asm(path string) *ASM {
	var a ASM
	group := false
	if !r.object(path, func(key, path string) {
		switch key {
		case "group_id":
			before := len(*r.errs)
			a.GroupID, group = r.integer(path)
			group = group || len(*r.errs) > before
		case "groups_to_display":
			n, _ := r.array(path, MaxGroupsToDisplay, func(i int, path string) { r.integer(path) })
			if n > MaxGroupsToDisplay {
				r.errs.addf(path, "may have at most %d groups", MaxGroupsToDisplay)
			}
		default:
			r.unknown(path)
		}
	}) {
		return nil
	}
	if !group {
		r.errs.add(path+".group_id", "is required")
	}
	return &a
}

func (r *jreader) mailSettings(path string) *MailSettings {
	var ms MailSettings
	if !r.object(path, func(key, path string) {
		switch key {
		case "sandbox_mode":
			var s Setting
			if r.object(path, func(key, path string) {
				if key == "enable" {
					s.Enable, _ = r.boolean(path)
					return
				}
				r.unknown(path)
			}) {
				ms.SandboxMode = &s
			}
		case "bypass_list_management", "bypass_spam_management",
			"bypass_bounce_management", "bypass_unsubscribe_management", "footer":
			r.object(path, func(string, string) { r.skip() })
		default:
			r.unknown(path)
		}
	}) {
		return nil
	}
	return &ms
}

// ignoredObject accepts an object whose members are among known and whose
// values are objects, and keeps nothing of it.
func (r *jreader) ignoredObject(path string, known ...string) {
	r.object(path, func(key, path string) {
		for _, k := range known {
			if key == k {
				r.object(path, func(string, string) { r.skip() })
				return
			}
		}
		r.unknown(path)
	})
}

// refuseTemplateData refuses dynamic_template_data unless it is null or {}.
func (r *jreader) refuseTemplateData(path string) {
	n := 0
	if !r.object(path, func(string, string) { n++; r.skip() }) && r.bad {
		return
	}
	if n > 0 {
		r.errs.add(path, "dynamic templates are not supported by Postern; send subject and content instead")
	}
}

// checkLimits checks the counts and sizes of the Max constants on req, for
// Decode and again for a Request built by hand.
func checkLimits(req *Request, errs *Errors) {
	if n := len(req.Personalizations); n > MaxPersonalizations {
		errs.addf("personalizations", "may have at most %d items", MaxPersonalizations)
	}
	total := 0
	for i, p := range req.Personalizations[:min(len(req.Personalizations), MaxPersonalizations)] {
		path := fmt.Sprintf("personalizations.%d", i)
		n := len(p.To) + len(p.Cc) + len(p.Bcc)
		total += n
		if n > MaxRecipients {
			errs.addf(path, "may have at most %d recipients in to, cc and bcc together", MaxRecipients)
		}
		checkMapBytes(path+".substitutions", p.Substitutions, MaxSubstitutionsBytes, errs)
		checkMapBytes(path+".custom_args", p.CustomArgs, MaxCustomArgsBytes, errs)
		if len(p.Headers) > MaxHeaders {
			errs.addf(path+".headers", "may have at most %d headers", MaxHeaders)
		}
	}
	if total > MaxRecipients {
		errs.addf("personalizations", "may have at most %d recipients in all personalizations together", MaxRecipients)
	}
	if len(req.ReplyToList) > MaxReplyTo {
		errs.addf("reply_to_list", "may have at most %d items", MaxReplyTo)
	}
	if len(req.Content) > MaxContent {
		errs.addf("content", "may have at most %d items", MaxContent)
	}
	if len(req.Attachments) > MaxAttachments {
		errs.addf("attachments", "may have at most %d items", MaxAttachments)
	}
	if len(req.Headers) > MaxHeaders {
		errs.addf("headers", "may have at most %d headers", MaxHeaders)
	}
	if len(req.Categories) > MaxCategories {
		errs.addf("categories", "may have at most %d items", MaxCategories)
	}
	checkMapBytes("custom_args", req.CustomArgs, MaxCustomArgsBytes, errs)
}

func checkMapBytes(path string, m map[string]string, max int, errs *Errors) {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	if n > max {
		errs.addf(path, "may be at most %d bytes, keys and values together", max)
	}
}

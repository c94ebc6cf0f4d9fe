package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCLIAndAPIAgree: each management operation done once through the
// CLI and once through the API (SendGrid's Go client), with the same
// inputs, gives the same result, read back through both. Both are thin
// layers over internal/admin; this holds them to it.
func TestCLIAndAPIAgree(t *testing.T) {
	in := newInstance(t, 0)
	in.start()
	in.mustCLI("user", "create", "acme")
	key := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme", "--name", "admin", "--scopes", "full"))
	sg := sgClient{t: t, base: "http://" + in.addr("http")}
	line := func(out, substr string) string {
		t.Helper()
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, substr) {
				return l
			}
		}
		t.Fatalf("no line with %q in:\n%s", substr, out)
		return ""
	}

	t.Run("apikey create", func(t *testing.T) {
		cliID := strings.Split(strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme", "--name", "by-cli", "--scopes", "mail.send,suppression.read")), "_")[1]
		obj, _ := sg.must(201, key, "POST", "/v3/api_keys", "", map[string]any{"name": "by-api", "scopes": []string{"mail.send", "suppression.read"}})
		apiID := obj["api_key_id"].(string)
		viaCLI, _ := sg.must(200, key, "GET", "/v3/api_keys/"+cliID, "", nil)
		viaAPI, _ := sg.must(200, key, "GET", "/v3/api_keys/"+apiID, "", nil)
		if a, b := sortedScopes(viaCLI), sortedScopes(viaAPI); a != b || a != "[mail.send suppression.read]" {
			t.Fatalf("scopes: CLI-made %s, API-made %s", a, b)
		}
		list := in.mustCLI("apikey", "list", "--user", "acme")
		if a, b := fields(line(list, cliID), 3, 5), fields(line(list, apiID), 3, 5); a != b {
			t.Fatalf("apikey list: CLI-made %q, API-made %q", a, b)
		}
	})

	t.Run("apikey rename and scopes", func(t *testing.T) {
		cliID := strings.Split(strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme", "--name", "n1")), "_")[1]
		obj, _ := sg.must(201, key, "POST", "/v3/api_keys", "", map[string]any{"name": "n2", "scopes": []string{"mail.send"}})
		apiID := obj["api_key_id"].(string)
		in.mustCLI("apikey", "rename", cliID, "renamed")
		sg.must(200, key, "PATCH", "/v3/api_keys/"+apiID, "", map[string]any{"name": "renamed"})
		in.mustCLI("apikey", "scopes", cliID, "stats.read,suppression.read")
		sg.must(200, key, "PUT", "/v3/api_keys/"+apiID, "", map[string]any{"name": "renamed", "scopes": []string{"stats.read", "suppression.read"}})
		a, _ := sg.must(200, key, "GET", "/v3/api_keys/"+cliID, "", nil)
		b, _ := sg.must(200, key, "GET", "/v3/api_keys/"+apiID, "", nil)
		if a["name"] != b["name"] || a["name"] != "renamed" || sortedScopes(a) != sortedScopes(b) || sortedScopes(a) != "[stats.read suppression.read]" {
			t.Fatalf("CLI-changed %v, API-changed %v", a, b)
		}
	})

	t.Run("apikey revoke", func(t *testing.T) {
		cliID := strings.Split(strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme", "--name", "r1")), "_")[1]
		obj, _ := sg.must(201, key, "POST", "/v3/api_keys", "", map[string]any{"name": "r2", "scopes": []string{"mail.send"}})
		apiID := obj["api_key_id"].(string)
		in.mustCLI("apikey", "revoke", cliID)
		sg.must(204, key, "DELETE", "/v3/api_keys/"+apiID, "", nil)
		for _, id := range []string{cliID, apiID} {
			sg.must(404, key, "GET", "/v3/api_keys/"+id, "", nil)
		}
		list := in.mustCLI("apikey", "list", "--user", "acme")
		if a, b := fields(line(list, cliID), 4, 5), fields(line(list, apiID), 4, 5); a != b || !strings.Contains(a, "revoked") {
			t.Fatalf("apikey list state: CLI-revoked %q, API-revoked %q", a, b)
		}
	})

	t.Run("subuser create and disable", func(t *testing.T) {
		in.mustCLI("user", "create", "s1", "--parent", "acme")
		sg.must(201, key, "POST", "/v3/subusers", "", map[string]any{"username": "s2", "email": "s2@acme.example", "password": "correct horse battery", "ips": []string{}})
		list := in.mustCLI("user", "list")
		if a, b := fields(line(list, "s1 "), 1, 2), fields(line(list, "s2 "), 1, 2); a != b || a != "acme" {
			t.Fatalf("user list parent: CLI-made %q, API-made %q", a, b)
		}
		in.mustCLI("user", "suspend", "s1", "--reason", "disabled by the account")
		sg.must(204, key, "PATCH", "/v3/subusers/s2", "", map[string]any{"disabled": true})
		for _, name := range []string{"s1", "s2"} {
			obj, _ := sg.must(200, key, "GET", "/v3/subusers/"+name, "", nil)
			if obj["disabled"] != true || obj["username"] != name {
				t.Fatalf("GET /v3/subusers/%s: %v", name, obj)
			}
			if show := in.mustCLI("user", "show", name); !strings.Contains(show, "suspended") {
				t.Fatalf("user show %s:\n%s", name, show)
			}
		}
	})

	t.Run("domain add and verify", func(t *testing.T) {
		in.mustCLI("domain", "add", "d1.test", "--user", "acme")
		obj, _ := sg.must(201, key, "POST", "/v3/whitelabel/domains", "", map[string]any{"domain": "d2.test"})
		id2 := fmt.Sprint(obj["id"])
		_, arr := sg.must(200, key, "GET", "/v3/whitelabel/domains", "", nil)
		var id1 string
		for _, v := range arr {
			if d := v.(map[string]any); d["domain"] == "d1.test" {
				id1 = fmt.Sprint(d["id"])
			}
		}
		if id1 == "" {
			t.Fatalf("the CLI's domain is not in the API's list: %v", arr)
		}
		d1, _ := sg.must(200, key, "GET", "/v3/whitelabel/domains/"+id1, "", nil)
		d2, _ := sg.must(200, key, "GET", "/v3/whitelabel/domains/"+id2, "", nil)
		if a, b := recordShape(d1), recordShape(d2); a != b {
			t.Fatalf("records: CLI-made %s, API-made %s", a, b)
		}
		for _, d := range []map[string]any{d1, d2} {
			publishRecords(t, in, d)
		}
		in.mustCLI("domain", "verify", "d1.test") // exit 0: verified
		v, _ := sg.must(200, key, "POST", "/v3/whitelabel/domains/"+id2+"/validate", "", nil)
		if v["valid"] != true {
			t.Fatalf("validate d2.test: %v", v)
		}
		list := in.mustCLI("domain", "list")
		if a, b := fields(line(list, "d1.test"), 1, 3), fields(line(list, "d2.test"), 1, 3); a != b {
			t.Fatalf("domain list: CLI-verified %q, API-validated %q", a, b)
		}
	})

	t.Run("sender add", func(t *testing.T) {
		in.mustCLI("sender", "add", "one@mailbox.test", "--user", "acme")
		sg.must(201, key, "POST", "/v3/verified_senders", "", map[string]any{"nickname": "two", "from_email": "two@mailbox.test", "reply_to": "two@mailbox.test"})
		list := in.mustCLI("sender", "list", "--user", "acme")
		if a, b := fields(line(list, "one@mailbox.test"), 1, 3), fields(line(list, "two@mailbox.test"), 1, 3); a != b {
			t.Fatalf("sender list: CLI-added %q, API-added %q", a, b)
		}
		obj, _ := sg.must(200, key, "GET", "/v3/verified_senders", "", nil)
		got := map[string]any{}
		for _, v := range obj["results"].([]any) {
			s := v.(map[string]any)
			got[fmt.Sprint(s["from_email"])] = s["verified"]
		}
		if got["one@mailbox.test"] != got["two@mailbox.test"] || got["one@mailbox.test"] != false {
			t.Fatalf("verified_senders: %v", got)
		}
	})

	t.Run("ip allow", func(t *testing.T) {
		in.mustCLI("ip", "allow", "127.0.0.0/8", "--user", "acme") // keep the test's own address in
		in.mustCLI("ip", "allow", "192.0.2.0/24", "--user", "acme")
		sg.must(201, key, "POST", "/v3/access_settings/whitelist", "", map[string]any{"ips": []map[string]string{{"ip": "198.51.100.0/24"}}})
		obj, _ := sg.must(200, key, "GET", "/v3/access_settings/whitelist", "", nil)
		var ips []string
		for _, v := range obj["result"].([]any) {
			ips = append(ips, fmt.Sprint(v.(map[string]any)["ip"]))
		}
		if !slices.Contains(ips, "192.0.2.0/24") || !slices.Contains(ips, "198.51.100.0/24") {
			t.Fatalf("whitelist via the API: %v", ips)
		}
		list := in.mustCLI("ip", "list", "--user", "acme")
		if !strings.Contains(list, "192.0.2.0/24") || !strings.Contains(list, "198.51.100.0/24") {
			t.Fatalf("ip list:\n%s", list)
		}
	})

	t.Run("ip remove", func(t *testing.T) {
		in.mustCLI("ip", "allow", "203.0.113.0/24", "--user", "acme")
		in.mustCLI("ip", "allow", "203.0.114.0/24", "--user", "acme")
		obj, _ := sg.must(200, key, "GET", "/v3/access_settings/whitelist", "", nil)
		var id string
		for _, v := range obj["result"].([]any) {
			if r := v.(map[string]any); r["ip"] == "203.0.114.0/24" {
				id = fmt.Sprint(r["id"])
			}
		}
		in.mustCLI("ip", "remove", "203.0.113.0/24", "--user", "acme")
		sg.must(204, key, "DELETE", "/v3/access_settings/whitelist/"+id, "", nil)
		list := in.mustCLI("ip", "list", "--user", "acme")
		obj, _ = sg.must(200, key, "GET", "/v3/access_settings/whitelist", "", nil)
		if strings.Contains(list, "203.0.11") || strings.Contains(fmt.Sprint(obj), "203.0.11") {
			t.Fatalf("after removal: CLI %q, API %v", list, obj)
		}
	})

	t.Run("sender and domain delete", func(t *testing.T) {
		in.mustCLI("sender", "delete", "one@mailbox.test", "--user", "acme")
		obj, _ := sg.must(200, key, "GET", "/v3/verified_senders", "", nil)
		for _, v := range obj["results"].([]any) {
			if s := v.(map[string]any); s["from_email"] == "two@mailbox.test" {
				sg.must(204, key, "DELETE", "/v3/verified_senders/"+fmt.Sprint(s["id"]), "", nil)
			}
		}
		if list := in.mustCLI("sender", "list", "--user", "acme"); strings.Contains(list, "mailbox.test") {
			t.Fatalf("senders after deletion:\n%s", list)
		}
		in.mustCLI("domain", "delete", "d1.test")
		_, arr := sg.must(200, key, "GET", "/v3/whitelabel/domains", "", nil)
		for _, v := range arr {
			if d := v.(map[string]any); d["domain"] == "d2.test" {
				sg.must(204, key, "DELETE", "/v3/whitelabel/domains/"+fmt.Sprint(d["id"]), "", nil)
			}
		}
		if list := in.mustCLI("domain", "list"); strings.Contains(list, "d1.test") || strings.Contains(list, "d2.test") {
			t.Fatalf("domains after deletion:\n%s", list)
		}
	})

	t.Run("suppression add and remove", func(t *testing.T) {
		in.mustCLI("suppression", "add", "g1@x.test", "--user", "acme")
		sg.must(201, key, "POST", "/v3/asm/suppressions/global", "", map[string]any{"recipient_emails": []string{"g2@x.test"}})
		for _, a := range []string{"g1@x.test", "g2@x.test"} {
			obj, _ := sg.must(200, key, "GET", "/v3/asm/suppressions/global/"+a, "", nil)
			if obj["recipient_email"] != a {
				t.Fatalf("global suppression %s via the API: %v", a, obj)
			}
		}
		list := in.mustCLI("suppression", "list", "--user", "acme")
		line(list, "g1@x.test")
		line(list, "g2@x.test")
		in.mustCLI("suppression", "remove", "g1@x.test", "--user", "acme")
		sg.must(204, key, "DELETE", "/v3/asm/suppressions/global/g2@x.test", "", nil)
		for _, a := range []string{"g1@x.test", "g2@x.test"} {
			if obj, _ := sg.must(200, key, "GET", "/v3/asm/suppressions/global/"+a, "", nil); len(obj) != 0 {
				t.Fatalf("%s still suppressed: %v", a, obj)
			}
		}
		if list := in.mustCLI("suppression", "list", "--user", "acme"); strings.Contains(list, "@x.test") {
			t.Fatalf("suppression list after removal:\n%s", list)
		}
	})

	t.Run("webhook set and signing", func(t *testing.T) {
		in.mustCLI("user", "create", "wh", "--parent", "acme")
		cliKey := strings.TrimSpace(in.mustCLI("webhook", "set", "--user", "acme", "--url", "https://hooks.cli.test/",
			"--enabled", "on", "--events", "delivered,bounce,deferred", "--signed", "on"))
		const settings = "/v3/user/webhooks/event/settings"
		sg.must(200, key, "PATCH", settings, "wh", map[string]any{"url": "https://hooks.api.test/", "enabled": true,
			"delivered": true, "bounce": true, "deferred": true, "processed": false})
		signed, _ := sg.must(200, key, "PATCH", settings+"/signed", "wh", map[string]any{"enabled": true})
		cli, _ := sg.must(200, key, "GET", settings, "", nil)
		api, _ := sg.must(200, key, "GET", settings, "wh", nil)
		for _, k := range []string{"enabled", "processed", "delivered", "deferred", "bounce", "dropped", "spam_report", "unsubscribe"} {
			if cli[k] != api[k] {
				t.Errorf("%s: CLI-set %v, API-set %v", k, cli[k], api[k])
			}
		}
		if cli["public_key"] != cliKey || api["public_key"] != signed["public_key"] || cliKey == "" {
			t.Fatalf("public keys: CLI printed %q, the API has %v; the API's PATCH gave %v, its GET %v", cliKey, cli["public_key"], signed["public_key"], api["public_key"])
		}
		a, b := in.mustCLI("webhook", "show", "--user", "acme"), in.mustCLI("webhook", "show", "--user", "wh")
		for _, l := range []string{"state:", "events:", "signed:"} {
			if line(a, l) != line(b, l) {
				t.Errorf("webhook show: CLI-set %q, API-set %q", line(a, l), line(b, l))
			}
		}
	})

	t.Run("stats show", func(t *testing.T) {
		in.trust("acme", "example.test")
		sg.must(202, key, "POST", "/v3/mail/send", "", map[string]any{
			"personalizations": []map[string]any{{"to": []map[string]string{{"email": "s1@example.test"}, {"email": "s2@example.test"}}}},
			"from":             map[string]string{"email": "app@example.test"},
			"subject":          "stats", "content": []map[string]string{{"type": "text/plain", "value": "counted"}},
			"categories": []string{"weekly"},
		})
		today := time.Now().UTC().Format("2006-01-02")
		_, arr := sg.must(200, key, "GET", "/v3/stats?start_date="+today+"&end_date="+today, "", nil)
		out := in.mustCLI("stats", "show", "--user", "acme", "--start", today, "--end", today)
		if len(arr) != 1 {
			t.Fatalf("GET /v3/stats: %v", arr)
		}
		el := arr[0].(map[string]any)
		metrics := el["stats"].([]any)[0].(map[string]any)["metrics"].(map[string]any)
		// Requests are counted at acceptance, so both read 2 whatever
		// delivery has done meanwhile.
		api := fmt.Sprintf("%v %v", el["date"], metrics["requests"])
		if cli := fields(line(out, today), 0, 2); cli != api || api != today+" 2" {
			t.Fatalf("stats: CLI %q, API %q", cli, api)
		}
		_, arr = sg.must(200, key, "GET", "/v3/categories/stats?start_date="+today+"&end_date="+today+"&categories=weekly", "", nil)
		out = in.mustCLI("stats", "show", "--user", "acme", "--start", today, "--end", today, "--categories", "weekly")
		entry := arr[0].(map[string]any)["stats"].([]any)[0].(map[string]any)
		api = fmt.Sprintf("%v %v %v", arr[0].(map[string]any)["date"], entry["name"], entry["metrics"].(map[string]any)["requests"])
		if cli := fields(line(out, today), 0, 3); cli != api || api != today+" weekly 2" {
			t.Fatalf("category stats: CLI %q, API %q", cli, api)
		}
	})

	t.Run("list-unsubscribe", func(t *testing.T) {
		const path = "/v3/tracking_settings/subscription"
		show := func() string { return fields(line(in.mustCLI("user", "show", "acme"), "list-unsubscribe:"), 1, 2) }
		if obj, _ := sg.must(200, key, "GET", path, "", nil); obj["enabled"] != false || show() != "off" {
			t.Fatalf("default: API %v, CLI %q", obj, show())
		}
		in.mustCLI("user", "set", "acme", "--list-unsubscribe", "on")
		if obj, _ := sg.must(200, key, "GET", path, "", nil); obj["enabled"] != true || show() != "on" {
			t.Fatalf("CLI on: API %v, CLI %q", obj, show())
		}
		if obj, _ := sg.must(200, key, "PATCH", path, "", map[string]any{"enabled": false}); obj["enabled"] != false || show() != "off" {
			t.Fatalf("API off: API %v, CLI %q", obj, show())
		}
	})
}

// fields returns the whitespace-separated fields [from, to) of a line.
func fields(l string, from, to int) string {
	f := strings.Fields(l)
	if to > len(f) {
		to = len(f)
	}
	if from >= to {
		return ""
	}
	return strings.Join(f[from:to], " ")
}

func sortedScopes(obj map[string]any) string {
	var s []string
	for _, v := range obj["scopes"].([]any) {
		s = append(s, fmt.Sprint(v))
	}
	slices.Sort(s)
	return fmt.Sprint(s)
}

// recordShape is a domain's record names and types, without the domain.
func recordShape(d map[string]any) string {
	dns, _ := d["dns"].(map[string]any)
	var out []string
	for k, v := range dns {
		out = append(out, k+":"+fmt.Sprint(v.(map[string]any)["type"]))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// publishRecords serves a domain's records, as the API gives them, from
// the instance's DNS.
func publishRecords(t *testing.T, in *instance, d map[string]any) {
	t.Helper()
	dns, _ := d["dns"].(map[string]any)
	for _, v := range dns {
		rec := v.(map[string]any)
		host, data := fmt.Sprint(rec["host"]), fmt.Sprint(rec["data"])
		switch strings.ToLower(fmt.Sprint(rec["type"])) {
		case "txt":
			in.dns.Add(host + ". 300 IN TXT " + quoteTXT(data))
		case "mx":
			if len(strings.Fields(data)) == 1 {
				data = "10 " + strings.TrimSuffix(data, ".") + "."
			}
			in.dns.Add(host + ". 300 IN MX " + data)
		}
	}
}

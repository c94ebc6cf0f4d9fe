package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const examplePath = "../../postern.example.toml"

// writeFile writes content to a file in a fresh temporary directory.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "postern.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantErrs checks that err holds every string in want.
func wantErrs(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\ndoes not contain %q", err, w)
		}
	}
}

func TestDefaultValidates(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatalf("Load(\"\", nil) = %v", err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("Load(\"\", nil) = %+v, want Default()", cfg)
	}
}

func TestDefaultFreshSlices(t *testing.T) {
	a := Default()
	a.SMTP.Submission[0] = "changed"
	if b := Default(); b.SMTP.Submission[0] != "127.0.0.1:2525" {
		t.Fatalf("Default shares its slices: %v", b.SMTP.Submission)
	}
}

func TestDefaultValues(t *testing.T) {
	d := Default()
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"hostname", d.Hostname, "localhost"},
		{"data_dir", d.DataDir, "./postern-data"},
		{"store.driver", d.Store.Driver, "sqlite"},
		{"smtp.submission", d.SMTP.Submission, []string{"127.0.0.1:2525"}},
		{"smtp.submissions", d.SMTP.Submissions, []string{"127.0.0.1:2465"}},
		{"smtp.mx", d.SMTP.MX, []string{"127.0.0.1:2025"}},
		{"smtp.max_message_bytes", d.SMTP.MaxMessageBytes, int64(31457280)},
		{"smtp.max_recipients", d.SMTP.MaxRecipients, 1000},
		{"smtp.read_timeout", d.SMTP.ReadTimeout.Duration, 5 * time.Minute},
		{"smtp.write_timeout", d.SMTP.WriteTimeout.Duration, time.Minute},
		{"smtp.max_errors", d.SMTP.MaxErrors, 10},
		{"smtp.shutdown_timeout", d.SMTP.ShutdownTimeout.Duration, 30 * time.Second},
		{"http.listen", d.HTTP.Listen, "127.0.0.1:8025"},
		{"dns.resolver", d.DNS.Resolver, ""},
		{"delivery.port", d.Delivery.Port, 25},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestLoadFile(t *testing.T) {
	tests := []struct {
		name  string
		toml  string
		check func(t *testing.T, c Config)
	}{
		{"top level", `hostname = "mail.example.com"
data_dir = "/var/lib/postern"`, func(t *testing.T, c Config) {
			if c.Hostname != "mail.example.com" || c.DataDir != "/var/lib/postern" {
				t.Errorf("got %q %q", c.Hostname, c.DataDir)
			}
			if c.SMTP.MaxRecipients != 1000 {
				t.Errorf("unset key lost its default: max_recipients = %d", c.SMTP.MaxRecipients)
			}
		}},
		{"list replaces the default list", `[smtp]
submission = ["0.0.0.0:587", "0.0.0.0:2525"]
mx = []`, func(t *testing.T, c Config) {
			if want := []string{"0.0.0.0:587", "0.0.0.0:2525"}; !reflect.DeepEqual(c.SMTP.Submission, want) {
				t.Errorf("submission = %q, want %q", c.SMTP.Submission, want)
			}
			if len(c.SMTP.MX) != 0 {
				t.Errorf("mx = %q, want empty", c.SMTP.MX)
			}
			if want := []string{"127.0.0.1:2465"}; !reflect.DeepEqual(c.SMTP.Submissions, want) {
				t.Errorf("submissions = %q, want default %q", c.SMTP.Submissions, want)
			}
		}},
		{"shorter list does not keep default tail", `[smtp]
submission = ["[::1]:587"]`, func(t *testing.T, c Config) {
			if want := []string{"[::1]:587"}; !reflect.DeepEqual(c.SMTP.Submission, want) {
				t.Errorf("submission = %q, want %q", c.SMTP.Submission, want)
			}
		}},
		{"numbers and durations", `[smtp]
max_message_bytes = 1048576
max_recipients = 50
read_timeout = "90s"
write_timeout = "1h30m"
max_errors = 3
shutdown_timeout = "2m"
[delivery]
port = 2526`, func(t *testing.T, c Config) {
			s := c.SMTP
			if s.MaxMessageBytes != 1<<20 || s.MaxRecipients != 50 || s.MaxErrors != 3 {
				t.Errorf("numbers = %d %d %d", s.MaxMessageBytes, s.MaxRecipients, s.MaxErrors)
			}
			if s.ReadTimeout.Duration != 90*time.Second || s.WriteTimeout.Duration != 90*time.Minute || s.ShutdownTimeout.Duration != 2*time.Minute {
				t.Errorf("durations = %v %v %v", s.ReadTimeout, s.WriteTimeout, s.ShutdownTimeout)
			}
			if c.Delivery.Port != 2526 {
				t.Errorf("delivery.port = %d", c.Delivery.Port)
			}
		}},
		{"sections", `[store]
driver = "postgres"
dsn = "postgres://u:p@db/postern"
[tls]
cert_file = "/c.pem"
key_file = "/k.pem"
[http]
listen = "[::1]:8080"
[dns]
resolver = "127.0.0.1:53"`, func(t *testing.T, c Config) {
			want := Default()
			want.Store = Store{Driver: "postgres", DSN: "postgres://u:p@db/postern"}
			want.TLS = TLS{CertFile: "/c.pem", KeyFile: "/k.pem"}
			want.HTTP.Listen = "[::1]:8080"
			want.DNS.Resolver = "127.0.0.1:53"
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got %+v\nwant %+v", c, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeFile(t, tt.toml), nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want []string
	}{
		{"unknown top-level key", `hostnme = "x"`, []string{`unknown key "hostnme"`}},
		{"unknown keys, each named", `[smtp]
max_recipient = 5
maxerrors = 2`, []string{`unknown key "smtp.max_recipient"`, `unknown key "smtp.maxerrors"`}},
		{"unknown table named once", `[smtpp]
mx = ["0.0.0.0:25"]
max_errors = 1`, []string{`unknown key "smtpp"`}},
		{"bad duration", `[smtp]
read_timeout = "5 minutes"`, []string{"read_timeout", `invalid duration "5 minutes"`}},
		{"duration without unit", `[smtp]
read_timeout = 300`, []string{"read_timeout", `invalid duration "300"`}},
		{"wrong type", `[smtp]
max_recipients = "many"`, []string{"max_recipients"}},
		{"syntax", `hostname = `, []string{"line 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.toml)
			_, err := Load(path, nil)
			wantErrs(t, err, append(tt.want, path)...)
		})
	}

	t.Run("unknown table not repeated per key", func(t *testing.T) {
		_, err := Load(writeFile(t, "[smtpp]\nmx = []\n"), nil)
		if err == nil || strings.Contains(err.Error(), "smtpp.mx") {
			t.Errorf("err = %v, want only the table named", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.toml")
		_, err := Load(path, nil)
		wantErrs(t, err, path)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want os.ErrNotExist", err)
		}
	})
}

func TestLoadEnv(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		check func(t *testing.T, c Config)
	}{
		{"string top level", []string{"POSTERN_HOSTNAME=mail.example.com", "POSTERN_DATA_DIR=/srv/p"}, func(t *testing.T, c Config) {
			if c.Hostname != "mail.example.com" || c.DataDir != "/srv/p" {
				t.Errorf("got %q %q", c.Hostname, c.DataDir)
			}
		}},
		{"nested string", []string{"POSTERN_STORE_DSN=postgres://u:p@db/x?a=b", "POSTERN_STORE_DRIVER=postgres", "POSTERN_TLS_CERT_FILE=/c", "POSTERN_HTTP_LISTEN=0.0.0.0:80"}, func(t *testing.T, c Config) {
			if c.Store.DSN != "postgres://u:p@db/x?a=b" || c.Store.Driver != "postgres" || c.TLS.CertFile != "/c" || c.HTTP.Listen != "0.0.0.0:80" {
				t.Errorf("got %+v %+v %+v", c.Store, c.TLS, c.HTTP)
			}
		}},
		{"int", []string{"POSTERN_SMTP_MAX_RECIPIENTS=7", "POSTERN_DELIVERY_PORT= 2526 "}, func(t *testing.T, c Config) {
			if c.SMTP.MaxRecipients != 7 || c.Delivery.Port != 2526 {
				t.Errorf("got %d %d", c.SMTP.MaxRecipients, c.Delivery.Port)
			}
		}},
		{"int64", []string{"POSTERN_SMTP_MAX_MESSAGE_BYTES=1073741824"}, func(t *testing.T, c Config) {
			if c.SMTP.MaxMessageBytes != 1<<30 {
				t.Errorf("got %d", c.SMTP.MaxMessageBytes)
			}
		}},
		{"list", []string{"POSTERN_SMTP_SUBMISSION=0.0.0.0:587, [::]:587 ,0.0.0.0:2525"}, func(t *testing.T, c Config) {
			if want := []string{"0.0.0.0:587", "[::]:587", "0.0.0.0:2525"}; !reflect.DeepEqual(c.SMTP.Submission, want) {
				t.Errorf("got %q, want %q", c.SMTP.Submission, want)
			}
		}},
		{"empty list", []string{"POSTERN_SMTP_MX="}, func(t *testing.T, c Config) {
			if c.SMTP.MX == nil || len(c.SMTP.MX) != 0 {
				t.Errorf("got %#v, want an empty list", c.SMTP.MX)
			}
		}},
		{"duration", []string{"POSTERN_SMTP_READ_TIMEOUT=90s", "POSTERN_SMTP_SHUTDOWN_TIMEOUT=1h"}, func(t *testing.T, c Config) {
			if c.SMTP.ReadTimeout.Duration != 90*time.Second || c.SMTP.ShutdownTimeout.Duration != time.Hour {
				t.Errorf("got %v %v", c.SMTP.ReadTimeout, c.SMTP.ShutdownTimeout)
			}
		}},
		{"webhooks", []string{"POSTERN_WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true", "POSTERN_WEBHOOKS_RETRY_FOR=48h", "POSTERN_WEBHOOKS_CONCURRENCY=8", "POSTERN_WEBHOOKS_BATCH_SIZE=500"}, func(t *testing.T, c Config) {
			if w := c.Webhooks; !w.AllowPrivateNetworks || w.RetryFor.Duration != 48*time.Hour || w.Concurrency != 8 || w.BatchSize != 500 {
				t.Errorf("got %+v", w)
			}
		}},
		{"later entry wins", []string{"POSTERN_SMTP_MAX_ERRORS=2", "POSTERN_SMTP_MAX_ERRORS=3"}, func(t *testing.T, c Config) {
			if c.SMTP.MaxErrors != 3 {
				t.Errorf("got %d", c.SMTP.MaxErrors)
			}
		}},
		{"others ignored", []string{"POSTERN_CONFIG=/etc/postern.toml", "HOME=/root", "POSTERNX=1", "PATH=/bin", "=C:=C:\\", "NOEQUALS"}, func(t *testing.T, c Config) {
			if !reflect.DeepEqual(c, Default()) {
				t.Errorf("got %+v, want Default()", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load("", tt.env)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestEnvOverridesFile(t *testing.T) {
	path := writeFile(t, `hostname = "file.example.com"
[smtp]
max_errors = 4
mx = ["0.0.0.0:25"]`)
	c, err := Load(path, []string{"POSTERN_HOSTNAME=env.example.com", "POSTERN_SMTP_MX=[::]:25"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Hostname != "env.example.com" || c.SMTP.MaxErrors != 4 || !reflect.DeepEqual(c.SMTP.MX, []string{"[::]:25"}) {
		t.Errorf("got %q %d %q", c.Hostname, c.SMTP.MaxErrors, c.SMTP.MX)
	}
}

func TestLoadEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"unknown variable", []string{"POSTERN_SMTP_MAX_RECIPIENT=5"}, []string{"POSTERN_SMTP_MAX_RECIPIENT", "no such setting"}},
		{"section alone", []string{"POSTERN_SMTP=x"}, []string{"POSTERN_SMTP:"}},
		{"lower case", []string{"postern_hostname=x"}, []string{"postern_hostname", "did you mean POSTERN_HOSTNAME?"}},
		{"not a number", []string{"POSTERN_SMTP_MAX_RECIPIENTS=ten"}, []string{"POSTERN_SMTP_MAX_RECIPIENTS", "smtp.max_recipients", `"ten" is not a whole number`}},
		{"empty number", []string{"POSTERN_DELIVERY_PORT="}, []string{"POSTERN_DELIVERY_PORT", `"" is not a whole number`}},
		{"out of range", []string{"POSTERN_SMTP_MAX_MESSAGE_BYTES=99999999999999999999"}, []string{"POSTERN_SMTP_MAX_MESSAGE_BYTES", "out of range"}},
		{"bad duration", []string{"POSTERN_SMTP_WRITE_TIMEOUT=60"}, []string{"POSTERN_SMTP_WRITE_TIMEOUT", `invalid duration "60"`}},
		{"empty list item", []string{"POSTERN_SMTP_MX=0.0.0.0:25,"}, []string{"POSTERN_SMTP_MX", "item 2", "empty"}},
		{"every problem at once", []string{"POSTERN_NOPE=1", "POSTERN_SMTP_MAX_ERRORS=x", "POSTERN_SMTP_READ_TIMEOUT=soon"},
			[]string{"POSTERN_NOPE", "POSTERN_SMTP_MAX_ERRORS", "POSTERN_SMTP_READ_TIMEOUT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", tt.env)
			wantErrs(t, err, tt.want...)
		})
	}
}

func TestEnvNames(t *testing.T) {
	vars, err := envVars()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]string)
	for _, v := range vars {
		got[v.name] = v.key
	}
	// A sample of the names the design promises; the example-file test
	// checks that every one is documented.
	for name, key := range map[string]string{
		"POSTERN_HOSTNAME":               "hostname",
		"POSTERN_DATA_DIR":               "data_dir",
		"POSTERN_STORE_DSN":              "store.dsn",
		"POSTERN_TLS_KEY_FILE":           "tls.key_file",
		"POSTERN_SMTP_MAX_MESSAGE_BYTES": "smtp.max_message_bytes",
		"POSTERN_SMTP_SHUTDOWN_TIMEOUT":  "smtp.shutdown_timeout",
		"POSTERN_HTTP_LISTEN":            "http.listen",
		"POSTERN_HTTP_TRUSTED_PROXIES":   "http.trusted_proxies",
		"POSTERN_HTTP_METRICS_TOKEN":     "http.metrics_token",
		"POSTERN_LOG_FORMAT":             "log.format",
		"POSTERN_DNS_RESOLVER":           "dns.resolver",
		"POSTERN_DELIVERY_PORT":          "delivery.port",
		"POSTERN_DELIVERY_GIVE_UP_AFTER": "delivery.give_up_after",

		"POSTERN_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "webhooks.allow_private_networks",
		"POSTERN_WEBHOOKS_RETRY_FOR":              "webhooks.retry_for",
	} {
		if got[name] != key {
			t.Errorf("%s -> %q, want %q", name, got[name], key)
		}
	}
	if len(vars) != 74 {
		t.Errorf("%d keys, want 74 (a key was added: update this test and postern.example.toml)", len(vars))
	}
}

func TestDuration(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1h2m3s")); err != nil || d.Duration != time.Hour+2*time.Minute+3*time.Second {
		t.Fatalf("UnmarshalText = %v, %v", d, err)
	}
	text, err := d.MarshalText()
	if err != nil || string(text) != "1h2m3s" {
		t.Fatalf("MarshalText = %q, %v", text, err)
	}
	if err := d.UnmarshalText([]byte("")); err == nil {
		t.Error(`UnmarshalText("") = nil, want an error`)
	}
}

func TestDatabasePath(t *testing.T) {
	c := Default()
	c.DataDir = "/var/lib/postern"
	if got, want := c.DatabasePath(), filepath.Join("/var/lib/postern", "postern.db"); got != want {
		t.Errorf("DatabasePath() = %q, want %q", got, want)
	}
	c.Store.DSN = "/elsewhere/p.db"
	if got := c.DatabasePath(); got != "/elsewhere/p.db" {
		t.Errorf("DatabasePath() with dsn = %q", got)
	}
	c.Store.Driver = DriverPostgres
	if got := c.DatabasePath(); got != "" {
		t.Errorf("DatabasePath() for postgres = %q, want empty", got)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		want   []string // empty: valid
	}{
		{"production", func(c *Config) {
			c.Hostname = "mail.example.com"
			c.DataDir = "/var/lib/postern"
			c.Store = Store{Driver: "postgres", DSN: "postgres://db/postern"}
			c.TLS = TLS{CertFile: "/c.pem", KeyFile: "/k.pem"}
			c.SMTP.Submission = []string{"0.0.0.0:587", "[::]:2525"}
			c.SMTP.Submissions = []string{"0.0.0.0:465"}
			c.SMTP.MX = []string{"[2001:db8::1]:25", "localhost:0"}
			c.SMTP.MaxMessageBytes = 1 << 30
			c.SMTP.MaxRecipients = 100000
			c.DNS.Resolver = "[::1]:53"
			c.Delivery.Port = 65535
		}, nil},
		{"only submissions", func(c *Config) { c.SMTP.Submission = nil }, nil},
		{"spf and return path", func(c *Config) {
			c.Domains.SPFInclude = "_spf.mail.example.com"
			c.Domains.SPFIPs = []string{"192.0.2.25", "2001:db8::25"}
			c.Domains.ReturnPathHost = "bounces.example.com"
			c.HTTP.PublicURL = "https://mail.example.com/"
		}, nil},
		{"spf include", func(c *Config) { c.Domains.SPFInclude = "not a domain" }, []string{`domains.spf_include: "not a domain": not a domain name`}},
		{"spf ips", func(c *Config) { c.Domains.SPFIPs = []string{"192.0.2.1", "192.0.2.0/24"} }, []string{`domains.spf_ips[1]: "192.0.2.0/24": not an IP address`}},
		{"trusted proxies", func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.5", "10.1.0.0/16", "proxy.example"} }, []string{`http.trusted_proxies[2]: "proxy.example": not an address or CIDR prefix`}},
		{"return path host", func(c *Config) { c.Domains.ReturnPathHost = "_mx.example.com" }, []string{`domains.return_path_host: "_mx.example.com": not a host name`}},
		{"return path label", func(c *Config) { c.Domains.ReturnPathLabel = "a.b" }, []string{`domains.return_path_label: "a.b": must be one DNS label`}},
		{"return path label empty", func(c *Config) { c.Domains.ReturnPathLabel = "" }, []string{`domains.return_path_label: "": must be one DNS label`}},
		{"public url", func(c *Config) { c.HTTP.PublicURL = "mail.example.com" }, []string{`http.public_url: "mail.example.com": must be an http:// or https:// URL`}},
		{"feedback address", func(c *Config) { c.SMTP.FeedbackAddress = "fbl@mail.example.com" }, nil},
		{"feedback address with a name", func(c *Config) { c.SMTP.FeedbackAddress = "FBL <fbl@mail.example.com>" },
			[]string{`smtp.feedback_address: "FBL <fbl@mail.example.com>": must be a plain address, local-part@domain`}},
		{"feedback address without a domain", func(c *Config) { c.SMTP.FeedbackAddress = "fbl" }, []string{"smtp.feedback_address"}},
		{"feedback address with a bad domain", func(c *Config) { c.SMTP.FeedbackAddress = "fbl@mail_1.example.com" }, []string{"smtp.feedback_address"}},
		{"feedback address with an empty atom", func(c *Config) { c.SMTP.FeedbackAddress = "fbl..x@mail.example.com" }, []string{"smtp.feedback_address"}},
		{"only submission", func(c *Config) { c.SMTP.Submissions = nil; c.SMTP.MX = nil }, nil},
		{"hostname LOCALHOST", func(c *Config) { c.Hostname = "LOCALHOST" }, nil},
		{"hostname empty", func(c *Config) { c.Hostname = "" }, []string{"hostname: must be set"}},
		{"hostname single label", func(c *Config) { c.Hostname = "mail" }, []string{`hostname: "mail": must be fully qualified`}},
		{"hostname underscore", func(c *Config) { c.Hostname = "mail_1.example.com" }, []string{`hostname: "mail_1.example.com": not a valid host name`}},
		{"hostname trailing dot", func(c *Config) { c.Hostname = "mail.example.com." }, []string{`hostname: "mail.example.com.": not a valid host name`}},
		{"hostname hyphen", func(c *Config) { c.Hostname = "-mail.example.com" }, []string{"not a valid host name"}},
		{"hostname long label", func(c *Config) { c.Hostname = strings.Repeat("a", 64) + ".com" }, []string{"not a valid host name"}},
		{"hostname ip", func(c *Config) { c.Hostname = "192.0.2.1" }, []string{`hostname: "192.0.2.1": must be a host name, not an IP address`}},
		{"data_dir", func(c *Config) { c.DataDir = "" }, []string{"data_dir: must be set"}},
		{"driver", func(c *Config) { c.Store.Driver = "mysql" }, []string{`store.driver: "mysql": must be "sqlite" or "postgres"`}},
		{"postgres dsn", func(c *Config) { c.Store.Driver = "postgres" }, []string{`store.dsn: required when store.driver is "postgres"`}},
		{"cert without key", func(c *Config) { c.TLS.CertFile = "/c.pem" }, []string{"tls.key_file: required when tls.cert_file is set"}},
		{"key without cert", func(c *Config) { c.TLS.KeyFile = "/k.pem" }, []string{"tls.cert_file: required when tls.key_file is set"}},
		{"missing port", func(c *Config) { c.SMTP.Submission = []string{"127.0.0.1:2525", "foo"} }, []string{`smtp.submission[1]: "foo": missing port`}},
		{"empty port", func(c *Config) { c.SMTP.MX = []string{"127.0.0.1:"} }, []string{`smtp.mx[0]: "127.0.0.1:": missing port`}},
		{"missing host", func(c *Config) { c.SMTP.Submissions = []string{":465"} }, []string{`smtp.submissions[0]: ":465": missing host`}},
		{"ipv6 unbracketed", func(c *Config) { c.SMTP.MX = []string{"::1:25"} }, []string{`smtp.mx[0]: "::1:25": too many colons`, "brackets"}},
		{"brackets on ipv4", func(c *Config) { c.SMTP.MX = []string{"[127.0.0.1]:25"} }, []string{"only for IPv6"}},
		{"bad host", func(c *Config) { c.SMTP.MX = []string{"a b:25"} }, []string{`host "a b" is neither`}},
		{"named port", func(c *Config) { c.SMTP.MX = []string{"0.0.0.0:smtp"} }, []string{`smtp.mx[0]: "0.0.0.0:smtp": port "smtp": must be a number from 0 to 65535`}},
		{"port range", func(c *Config) { c.HTTP.Listen = "127.0.0.1:65536" }, []string{`http.listen: "127.0.0.1:65536": port "65536"`}},
		{"http empty", func(c *Config) { c.HTTP.Listen = "" }, []string{"http.listen: must be set"}},
		{"no submission", func(c *Config) { c.SMTP.Submission = nil; c.SMTP.Submissions = []string{} }, []string{"smtp.submission: empty, and so is smtp.submissions"}},
		{"message size zero", func(c *Config) { c.SMTP.MaxMessageBytes = 0 }, []string{"smtp.max_message_bytes: 0: must be between 1 and 1073741824"}},
		{"message size big", func(c *Config) { c.SMTP.MaxMessageBytes = 1<<30 + 1 }, []string{"smtp.max_message_bytes: 1073741825"}},
		{"recipients zero", func(c *Config) { c.SMTP.MaxRecipients = 0 }, []string{"smtp.max_recipients: 0: must be between 1 and 100000"}},
		{"recipients big", func(c *Config) { c.SMTP.MaxRecipients = 100001 }, []string{"smtp.max_recipients: 100001"}},
		{"timeouts", func(c *Config) {
			c.SMTP.ReadTimeout = Duration{}
			c.SMTP.WriteTimeout = Duration{-time.Second}
			c.SMTP.ShutdownTimeout = Duration{}
		}, []string{"smtp.read_timeout: 0s: must be greater than zero", "smtp.write_timeout: -1s", "smtp.shutdown_timeout: 0s"}},
		{"max errors", func(c *Config) { c.SMTP.MaxErrors = 0 }, []string{"smtp.max_errors: 0: must be at least 1"}},
		{"delivery port zero", func(c *Config) { c.Delivery.Port = 0 }, []string{"delivery.port: 0: must be between 1 and 65535"}},
		{"delivery port big", func(c *Config) { c.Delivery.Port = 70000 }, []string{"delivery.port: 70000"}},
		{"webhooks", func(c *Config) {
			c.Webhooks = Webhooks{AllowPrivateNetworks: true, Concurrency: 1000, BatchSize: 1, RetryFor: Duration{24 * time.Hour}}
		}, nil},
		{"webhooks retry for", func(c *Config) { c.Webhooks.RetryFor = Duration{23 * time.Hour} }, []string{"webhooks.retry_for: 23h0m0s: must be at least 24h"}},
		{"webhooks concurrency", func(c *Config) { c.Webhooks.Concurrency = 0 }, []string{"webhooks.concurrency: 0: must be between 1 and 1000"}},
		{"webhooks batch size", func(c *Config) { c.Webhooks.BatchSize = 1001 }, []string{"webhooks.batch_size: 1001: must be between 1 and 1000"}},
		{"metrics token", func(c *Config) { c.HTTP.MetricsToken = "0123456789abcdef" }, nil},
		{"metrics token short", func(c *Config) { c.HTTP.MetricsToken = "short" }, []string{"http.metrics_token: must be at least 16 characters"}},
		{"metrics token space", func(c *Config) { c.HTTP.MetricsToken = "0123456789 abcdef" }, []string{"http.metrics_token: must be at least 16 characters, without spaces"}},
		{"log json", func(c *Config) { c.Log.Format = "json" }, nil},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, []string{`log.format: "xml": must be "text" or "json"`}},
		{"resolver", func(c *Config) { c.DNS.Resolver = "8.8.8.8" }, []string{`dns.resolver: "8.8.8.8": missing port`}},
		{"resolver port zero", func(c *Config) { c.DNS.Resolver = "127.0.0.1:0" }, []string{`dns.resolver: "127.0.0.1:0": port "0": must be a number from 1 to 65535`}},
		{"several at once", func(c *Config) {
			c.Hostname = ""
			c.Store.Driver = "postgres"
			c.SMTP.Submission = []string{"127.0.0.1:2525", "foo"}
			c.SMTP.MaxRecipients = 0
			c.Delivery.Port = 0
		}, []string{"hostname: must be set", "store.dsn: required", `smtp.submission[1]: "foo": missing port`, "smtp.max_recipients: 0", "delivery.port: 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.modify(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			wantErrs(t, err, tt.want...)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Hostname = ""
	c.Store.Driver = "postgres"
	c.SMTP.Submission = []string{"127.0.0.1:2525", "foo"}
	c.SMTP.MaxRecipients = 0
	c.Delivery.Port = 0
	err := c.Validate()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Validate() = %#v, want errors joined", err)
	}
	want := []string{
		"hostname: must be set, to the fully qualified name of this host",
		`store.dsn: required when store.driver is "postgres"`,
		`smtp.submission[1]: "foo": missing port`,
		"smtp.max_recipients: 0: must be between 1 and 100000",
		"delivery.port: 0: must be between 1 and 65535",
	}
	var got []string
	for _, e := range joined.Unwrap() {
		got = append(got, e.Error())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Validate() errors =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestValidateNeverShowsDSN(t *testing.T) {
	c := Default()
	c.Store = Store{Driver: "nosuch", DSN: "postgres://user:hunter2@db/x"}
	c.Hostname = ""
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Validate() = %v", err)
	}
}

func TestValidateNeverShowsMetricsToken(t *testing.T) {
	c := Default()
	c.HTTP.MetricsToken = "hunter2 secret token"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Validate() = %v", err)
	}
}

func TestExampleFile(t *testing.T) {
	c, err := Load(examplePath, nil)
	if err != nil {
		t.Fatalf("Load(%s) = %v", examplePath, err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("example config does not validate: %v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("example config differs from Default():\n got %+v\nwant %+v", c, Default())
	}

	// Every key and its environment name are documented in the file.
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	vars, err := envVars()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vars {
		if !strings.Contains(string(data), v.name) {
			t.Errorf("%s does not mention %s (key %s)", examplePath, v.name, v.key)
		}
	}
}

func TestDerivedAddresses(t *testing.T) {
	c := Default()
	if c.ReturnPathHost() != "localhost" || c.PublicURL() != "http://127.0.0.1:8025" {
		t.Fatalf("defaults: %q %q", c.ReturnPathHost(), c.PublicURL())
	}
	c.Domains.ReturnPathHost, c.HTTP.PublicURL = "bounces.example.com.", "https://mail.example.com/"
	if c.ReturnPathHost() != "bounces.example.com" || c.PublicURL() != "https://mail.example.com" {
		t.Fatalf("set: %q %q", c.ReturnPathHost(), c.PublicURL())
	}
}

func TestTrustedProxyPrefixes(t *testing.T) {
	c := Default()
	c.HTTP.TrustedProxies = []string{"10.0.0.5", "10.1.2.3/16", "2001:db8::1"}
	got := c.TrustedProxyPrefixes()
	want := []string{"10.0.0.5/32", "10.1.0.0/16", "2001:db8::1/128"}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("%v, want %v", got, want)
		}
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/postern/postern/internal/config"
)

// commandDoc is what help says of one command. The flags' meanings are
// not here: help takes them from the command's own flag.FlagSet
// (commandFlags), so that they cannot drift from what the command
// parses; the synopsis names each flag with its value's name, and a test
// holds the two equal.
type commandDoc struct {
	name     string // "queue list"
	synopsis string // what follows the name: "[--user NAME]"
	summary  string // one line, for the command list
	details  string // more, for the command's own help; "" for none
}

// commandDocs is every command, in the order of the command list.
func commandDocs() []commandDoc {
	return []commandDoc{
		{"serve", "[--debug]", "run every listener, the queue and delivery", `Runs the SMTP listeners (submission with STARTTLS, implicit TLS, MX),
the HTTP listener (the SendGrid v3 API, /verify, /healthz, /metrics) and
delivery, until SIGTERM or SIGINT; then stops accepting and lets
transactions in progress finish (smtp.shutdown_timeout). The log goes to
stderr; --debug adds the debug lines (each SMTP session's start and
read errors, each DKIM signature). Without a config file it runs on the
embedded default: data in ./postern-data (created if missing, with a
self-signed certificate, postern-data/selfsigned-cert.pem, that clients
must be told to trust), every listener on 127.0.0.1: submission 2525,
implicit TLS 2465, MX 2025, HTTP 8025.`},
		{"user create", "NAME [--parent NAME]", "create an account, or a subuser of one", `The first command of a new installation: it creates the data directory
when there is none yet (and says so).`},
		{"user list", "", "NAME PARENT CREATED, one user per line", ""},
		{"user show", "NAME", "a user's settings, allow-list and keys", ""},
		{"user suspend", "NAME [--reason TEXT]", "refuse the user's keys at once", ""},
		{"user resume", "NAME", "accept the user's keys again", ""},
		{"user set", "NAME [--originating-ip on|off] [--spam-threshold N] [--list-unsubscribe on|off]", "X-Originating-IP (default on); own spam limit; one-click unsubscribe (default off)", ""},
		{"apikey create", "--user NAME [--name LABEL] [--scopes S,...] [--allow-ip CIDR,...]", "print a new API key (shown once) on stdout", `The key alone goes to stdout (KEY=$(postern apikey create --user NAME)),
the details to stderr. Scopes are SendGrid's names; the default,
mail.send, lets the key send over SMTP and the send API.`},
		{"apikey list", "[--user NAME]", "ID USER NAME SCOPES STATE CREATED from=ALLOWED, one key per line", ""},
		{"apikey show", "ID", "one key: user, name, scopes, state, allowed addresses", ""},
		{"apikey rename", "ID NAME", "give a key another label", ""},
		{"apikey scopes", "ID S,...", "replace a key's scopes (full: every scope)", ""},
		{"apikey revoke", "ID", "revoke a key at once", "ID is the key's id (apikey list); the whole key works too, and is not echoed."},
		{"queue list", "[--state STATE] [--user NAME] [--since WHEN] [--limit N] [--after ID]", "ID USER KEY FROM RCPTS SIZE STATE TIME, oldest first", `One message per line on stdout. On a terminal at most 50 are listed
unless --limit says otherwise, and stderr says when more match and how
to see the next page (--after the last id shown).`},
		{"queue show", "ID", "a message: attempts, next try, last reply, recipients, history", `attempts: the delivery attempts begun; next try: when the message is next
due (while queued); reply: the latest attempt's outcome, as the receiver
answered (or why no answer came), with its recipient and time.`},
		{"queue retry", "ID", "make a queued message due now", ""},
		{"queue drop", "ID", "drop a queued message's pending recipients", ""},
		{"suppression list", "--user NAME", "ADDRESS TIME REASON, one per line", ""},
		{"suppression add", "ADDRESS --user NAME [--reason TEXT]", "never send to ADDRESS for the user", ""},
		{"suppression remove", "ADDRESS --user NAME", "send to ADDRESS again", ""},
		{"ip allow", "CIDR --user ACCOUNT", "allow-list for the account and its subusers", ""},
		{"ip remove", "CIDR --user ACCOUNT", "remove an entry of the account's allow-list", ""},
		{"ip list", "--user ACCOUNT", "the account's allow-list", ""},
		{"limit set", "(--user NAME | --key ID) --per minute|hour|day|month [--messages N] [--recipients N] [--mode reject|hold]", "a rate limit or quota for a user or a key", ""},
		{"limit list", "", "KIND SUBJECT PERIOD MESSAGES RECIPIENTS MODE", ""},
		{"store copy", "--to DSN", "copy this embedded instance into an empty PostgreSQL database", `For the move from one machine to a cluster: stop postern serve, run
this with the instance's own config, then set store.driver = "postgres"
and store.dsn = DSN on every node and start them. Everything is copied
in one transaction (users, keys, allow-lists, limits, domains with their
DKIM keys, senders, suppressions, the queue with its events); the
database must be empty. Prints TABLE ROWS per table. A password is best
kept out of DSN, in ~/.pgpass or PGPASSWORD.`},
		{"domain add", "DOMAIN --user NAME [--shared] [--dkim-key FILE --selector S]", "DKIM keys; prints the DNS records to publish", `The domain is the user's alone until shared (--shared, or domain share):
a subuser cannot send as its account's domain, nor its sibling's, before.`},
		{"domain verify", "DOMAIN [--trust [--return-path]]", "checks the records (✓/✗); exit 1 unless verified", ""},
		{"domain list", "[--user NAME]", "NAME USER STATE own|shared SELECTORS CREATED", ""},
		{"domain show", "DOMAIN", "state, records to publish, history (e.g. a lapse)", ""},
		{"domain delete", "DOMAIN", "delete a domain, its keys and history", ""},
		{"domain share", "DOMAIN [--off]", "let every user of the owner's account send as it", ""},
		{"domain rotate-dkim", "DOMAIN", "new selectors; signing switches once domain verify sees them", ""},
		{"sender add", "ADDRESS --user NAME [--verified]", "mails a confirmation code (or the operator vouches)", ""},
		{"sender confirm", "CODE", "verifies the sender the code was sent to", ""},
		{"sender list", "[--user NAME]", "ADDRESS USER STATE[, shared]", ""},
		{"sender share", "ADDRESS --user NAME [--off]", "let every user of the owner's account send as it", ""},
		{"sender resend", "ADDRESS --user NAME", "mail a new confirmation code", ""},
		{"sender delete", "ADDRESS --user NAME", "remove a single sender", ""},
		{"webhook set", "--user NAME [--url URL] [--enabled on|off] [--events E,...] [--signed on|off]", "the user's event webhook: URL, events, signing", `Changes the user's first event webhook (the one SendGrid's settings
endpoints without an id show), making it, disabled, when the user has
none; the settings not named stay. --events replaces the list. The
events are SendGrid's settings: deferred covers delay notices too.
With --signed on, the public key receivers verify with goes to stdout
(KEY=$(postern webhook set --user NAME --signed on)); off keeps the key,
so turning it on again brings back the same one.`},
		{"webhook show", "--user NAME", "the user's webhooks: URL, events, key, last delivery, backlog", ""},
		{"webhook test", "--user NAME [--url URL]", "POST a test event to the webhook's URL (or URL)", ""},
		{"stats show", "--user NAME [--start YYYY-MM-DD] [--end YYYY-MM-DD] [--by day|week|month] [--categories C,… | --subusers NAME,…]",
			"DATE [NAME] REQUESTS DELIVERED DEFERRED BOUNCES BLOCKS DROPS SPAM_REPORTS UNSUBSCRIBES", `The user's statistics, as GET /v3/stats has them, one line per day,
week (dated by its Monday) or month (by its first), every one of the
range, zeros included; UTC days. They come from the events of the
user's messages (Postern's own bounce messages left out): requests are
the recipients accepted, blocks the bounces on policy grounds (5.7.x)
or after giving up, bounces the others, drops the recipients not sent
to (suppressed or dropped). Opens and clicks Postern does not track.
With --categories (GET /v3/categories/stats), a line per bucket and
category, counting the user's messages of that category; with
--subusers (GET /v3/subusers/stats), a line per bucket and subuser of
the user. The name follows the date.`},
		{"help", "[COMMAND]", "the commands, or one command's synopsis and flags", ""},
		{"version", "", "Postern's version, commit and Go release", ""},
	}
}

// docOf returns the doc of the command name.
func docOf(name string) (commandDoc, bool) {
	i := slices.IndexFunc(commandDocs(), func(d commandDoc) bool { return d.name == name })
	if i < 0 {
		return commandDoc{}, false
	}
	return commandDocs()[i], true
}

// usageText is the overview: every command with its synopsis.
func usageText() string {
	var b strings.Builder
	b.WriteString("usage: postern [--config FILE] COMMAND [ARGS]\n\nCommands:\n")
	for _, d := range commandDocs() {
		line := "  " + strings.TrimSpace(d.name+" "+d.synopsis)
		if len(line) < 40 {
			fmt.Fprintf(&b, "%-42s%s\n", line, d.summary)
		} else {
			fmt.Fprintf(&b, "%s\n%42s%s\n", line, "", d.summary)
		}
	}
	b.WriteString(`
"postern COMMAND --help" or "postern help COMMAND" tells more of one.
--config FILE may come before or after the command; POSTERN_CONFIG names it
too. Without a file Postern runs on its embedded default (./postern-data,
127.0.0.1 only). Every key can be set as POSTERN_<SECTION>_<KEY>.
`)
	return b.String()
}

// helpRequest is parseFlags's answer to -h or --help: flag.ErrHelp,
// carrying the command's flags.
type helpRequest struct{ fs *flag.FlagSet }

func (h *helpRequest) Error() string { return flag.ErrHelp.Error() }
func (h *helpRequest) Unwrap() error { return flag.ErrHelp }

// commandFlags returns the flags of the command name, by asking the
// command itself: it runs with --help alone, which every command parses
// before it touches the app (nil here) or its config, and parseFlags
// answers with the FlagSet. nil: the command has no flags (it takes
// positional arguments only, and says so without a FlagSet), or it broke
// that rule, which TestHelpFlagsMatchSynopsis catches.
func commandFlags(ctx context.Context, name string) (fs *flag.FlagSet) {
	defer func() {
		if recover() != nil {
			fs = nil
		}
	}()
	var err error
	switch handler, ok := adminCommands[name]; {
	case name == "serve":
		err = serve(ctx, config.Config{}, []string{"--help"}, io.Discard)
	case ok:
		err = handler(ctx, nil, []string{"--help"}, io.Discard, io.Discard)
	default:
		return nil
	}
	var h *helpRequest
	if errors.As(err, &h) {
		return h.fs
	}
	return nil
}

// metavarRE finds "--flag VALUE" in a synopsis: the name of a flag's value.
var metavarRE = regexp.MustCompile(`--([a-z][a-z0-9-]*)(?: ([A-Z][A-Z,.]*|[a-z]+(?:\|[a-z]+)+))?`)

// commandHelp writes the help of the command name: synopsis, details and
// flags with their meaning and default.
func commandHelp(ctx context.Context, w io.Writer, name string) {
	d, _ := docOf(name)
	fmt.Fprintf(w, "usage: postern %s\n\n%s.\n", strings.TrimSpace(name+" "+d.synopsis), capitalize(d.summary))
	if d.details != "" {
		fmt.Fprintf(w, "\n%s\n", d.details)
	}
	if fs := commandFlags(ctx, name); fs != nil {
		values := map[string]string{}
		for _, m := range metavarRE.FindAllStringSubmatch(d.synopsis, -1) {
			if m[2] != "" {
				values[m[1]] = m[2]
			}
		}
		var lines [][2]string
		width := 0
		fs.VisitAll(func(f *flag.Flag) {
			left := "--" + f.Name
			if v := values[f.Name]; v != "" {
				left += " " + v
			} else if v, _ := flag.UnquoteUsage(f); v != "" {
				left += " " + strings.ToUpper(v)
			}
			usage := f.Usage
			if shownDefault(f.DefValue) {
				usage += " (default " + f.DefValue + ")"
			}
			lines = append(lines, [2]string{left, usage})
			width = max(width, len(left))
		})
		if len(lines) > 0 {
			fmt.Fprint(w, "\nFlags:\n")
			for _, l := range lines {
				fmt.Fprintf(w, "  %-*s  %s\n", width, l[0], l[1])
			}
		}
	}
	fmt.Fprint(w, "\nEvery command also takes --config FILE (or POSTERN_CONFIG); \"postern help\" lists the commands.\n")
}

// shownDefault reports whether a flag's default is worth saying: not the
// zero value, nor a negative sentinel ("not given").
func shownDefault(def string) bool {
	return def != "" && def != "0" && def != "false" && !strings.HasPrefix(def, "-")
}

// groupHelp writes the synopses of a command group's subcommands.
func groupHelp(w io.Writer, group string) {
	fmt.Fprintf(w, "postern %s has these subcommands:\n", group)
	for _, d := range commandDocs() {
		if strings.HasPrefix(d.name, group+" ") {
			fmt.Fprintf(w, "  postern %s\n      %s\n", strings.TrimSpace(d.name+" "+d.synopsis), d.summary)
		}
	}
	fmt.Fprintf(w, "\n\"postern help %s SUBCOMMAND\" tells more of one.\n", group)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// version is what "postern version" prints: the module version, the
// commit it was built from (when the build recorded it) and the Go
// release.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "postern (unknown version)"
	}
	v := "postern " + info.Main.Version
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		v += " (commit " + rev[:min(12, len(rev))] + modified + ")"
	}
	return v + " " + info.GoVersion
}

// suggest returns the candidate nearest to word, if it is near enough to
// be a slip: an edit distance (adjacent transpositions counted as one)
// of at most one for short words and two for longer, or word a prefix of
// exactly one candidate.
func suggest(word string, candidates []string) string {
	best, bestD := "", -1
	var prefixed []string
	for _, c := range candidates {
		if strings.HasPrefix(c, word) {
			prefixed = append(prefixed, c)
		}
		if d := editDistance(word, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := 1
	if len(word) > 4 {
		limit = 2
	}
	switch {
	case bestD >= 0 && bestD <= limit:
		return best
	case word != "" && len(prefixed) == 1:
		return prefixed[0]
	}
	return ""
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of adjacent characters.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

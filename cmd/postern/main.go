// Command postern is Postern's one binary: the server (serve) and its
// administration subcommands. See DESIGN.md, "The user-facing contract".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/config"
)

const usage = `usage: postern [--config FILE] COMMAND [ARGS]

Commands:
  serve                                   run every listener and the queue
  user create NAME [--parent NAME]        create an account, or a subuser of one
  user list                               NAME PARENT CREATED, one user per line
  user show NAME                          a user's settings, allow-list and keys
  user suspend NAME [--reason TEXT]       refuse the user's keys at once
  user resume NAME
  user set NAME [--originating-ip on|off] [--spam-threshold N]
                                          X-Originating-IP (default on); own spam limit
  apikey create --user NAME [--name LABEL] [--scopes mail.send,...] [--allow-ip CIDR,...]
                                          print a new API key (shown once) on stdout
  apikey list [--user NAME]               ID USER NAME SCOPES STATE CREATED from=ALLOWED, one key per line
  apikey revoke ID                        revoke a key at once
  queue list                              ID USER KEY FROM RCPTS SIZE STATE TIME
  queue show ID                           a message, its recipients and its history
  queue retry ID                          make a queued message due now
  queue drop ID                           drop a queued message's pending recipients
  suppression list --user NAME            ADDRESS REASON TIME, one per line
  suppression add ADDRESS --user NAME [--reason TEXT]
  suppression remove ADDRESS --user NAME
  ip allow CIDR --user ACCOUNT            allow-list for the account and its subusers
  ip remove CIDR --user ACCOUNT
  ip list --user ACCOUNT
  limit set (--user NAME | --key ID) --per minute|hour|day|month [--messages N]
            [--recipients N] [--mode reject|hold]
  limit list                              KIND SUBJECT PERIOD MESSAGES RECIPIENTS MODE
  domain add DOMAIN --user NAME [--shared] [--dkim-key FILE --selector S]
                                          DKIM keys; prints the DNS records to publish
  domain verify DOMAIN [--trust [--return-path]]
                                          checks the records (✓/✗); exit 1 unless verified
  domain list [--user NAME]               NAME USER STATE own|shared SELECTORS CREATED
  domain show DOMAIN                      state, records to publish, history (e.g. a lapse)
  domain share DOMAIN [--off]             let every user of the owner's account send as it
  domain rotate-dkim DOMAIN               new selectors; signing switches once domain verify sees them
  sender add ADDRESS --user NAME [--verified]
                                          mails a confirmation code (or the operator vouches)
  sender confirm CODE                     verifies the sender the code was sent to
  sender list [--user NAME]               ADDRESS USER STATE[, shared]
  sender share ADDRESS --user NAME [--off]
                                          let every user of the owner's account send as it

--config FILE may come before or after the command; POSTERN_CONFIG names it
too. Without a file Postern runs on its embedded default (./postern-data,
127.0.0.1 only). Every key can be set as POSTERN_<SECTION>_<KEY>.
`

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is main without the process: arguments, environment and streams in,
// exit status out.
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	configPath, args, err := extractConfig(args, env)
	if err == nil && len(args) == 0 {
		err = errUsage
	}
	if err == nil {
		var cfg config.Config
		cfg, err = config.Load(configPath, env)
		if err == nil {
			err = dispatch(ctx, cfg, args, stdout, stderr)
		}
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return 0
	case errors.Is(err, errUsage):
		if msg := strings.TrimPrefix(err.Error(), errUsage.Error()); msg != "" {
			fmt.Fprintln(stderr, "postern:"+printableLines(strings.TrimPrefix(msg, ":")))
		}
		fmt.Fprint(stderr, usage)
		return 2
	default:
		fmt.Fprintln(stderr, "postern:", printableLines(err.Error()))
		return 1
	}
}

// extractConfig takes --config FILE (or --config=FILE, -config) from
// anywhere in args; POSTERN_CONFIG is the fallback.
func extractConfig(args, env []string) (string, []string, error) {
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "POSTERN_CONFIG="); ok {
			path = v
		}
	}
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return "", nil, fmt.Errorf("%w: --config needs a file", errUsage)
			}
			i++
			value = args[i]
		}
		path = value
	}
	return path, rest, nil
}

func dispatch(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	cmd, rest := args[0], args[1:]
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		return flag.ErrHelp
	}
	if cmd == "serve" {
		return serve(ctx, cfg, rest, stderr)
	}
	if len(rest) == 0 {
		return fmt.Errorf("%w: %s needs a subcommand", errUsage, cmd)
	}
	handler, ok := adminCommands[cmd+" "+rest[0]]
	if !ok {
		return fmt.Errorf("%w: unknown command %q", errUsage, cmd+" "+rest[0])
	}
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	return handler(ctx, a, rest[1:], stdout, stderr)
}

// parseFlags parses fs allowing positional arguments between flags
// ("user create NAME --parent P") and returns the positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// positionals checks the count of positional arguments.
func positionals(pos []string, want int, what string) error {
	if len(pos) != want {
		return fmt.Errorf("%w: expected %s", errUsage, what)
	}
	return nil
}

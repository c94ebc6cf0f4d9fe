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
	"slices"
	"strings"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/config"
)

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is main without the process: arguments, environment and streams in,
// exit status out.
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	configPath, args, err := extractConfig(args, env)
	if err == nil {
		err = route(ctx, configPath, args, env, stdout, stderr)
	}
	var cu *commandUsage
	var gu *groupUsage
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usageText())
		return 0
	case errors.As(err, &cu):
		// A mistake in one command's arguments: that command's synopsis.
		fmt.Fprintln(stderr, "postern:"+printableLines(strings.TrimPrefix(strings.TrimPrefix(cu.err.Error(), errUsage.Error()), ":")))
		d, _ := docOf(cu.name)
		fmt.Fprintf(stderr, "usage: postern %s\n(\"postern help %s\" tells more)\n", strings.TrimSpace(cu.name+" "+d.synopsis), cu.name)
		return 2
	case errors.As(err, &gu):
		fmt.Fprintln(stderr, "postern:", gu.Error())
		groupHelp(stderr, gu.group)
		return 2
	case errors.Is(err, errUnknown):
		fmt.Fprintln(stderr, "postern:", printableLines(err.Error()))
		fmt.Fprintln(stderr, `"postern help" lists the commands`)
		return 2
	case errors.Is(err, errUsage):
		if msg := strings.TrimPrefix(err.Error(), errUsage.Error()); msg != "" {
			fmt.Fprintln(stderr, "postern:"+printableLines(strings.TrimPrefix(msg, ":")))
		}
		fmt.Fprint(stderr, usageText())
		return 2
	default:
		fmt.Fprintln(stderr, "postern:", printableLines(err.Error()))
		return 1
	}
}

// groupUsage is a command group named without a subcommand.
type groupUsage struct{ group string }

func (e *groupUsage) Error() string { return e.group + " needs a subcommand" }
func (e *groupUsage) Unwrap() error { return errUsage }

// errUnknown marks an unknown command: exit status 2, with a suggestion.
var errUnknown = errors.New("unknown command")

// commandUsage is a usage mistake within the command name.
type commandUsage struct {
	name string
	err  error
}

func (e *commandUsage) Error() string { return e.name + ": " + e.err.Error() }
func (e *commandUsage) Unwrap() error { return e.err }

// route answers help and version without a config, finds the command
// named by args (a word, or a group and a subcommand), and runs it.
func route(ctx context.Context, configPath string, args, env []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return help(ctx, args[1:], stdout)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, version())
		return nil
	}
	name, rest, err := commandName(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) { // "postern queue --help"
			groupHelp(stdout, args[0])
			return nil
		}
		return err
	}
	if wantsHelp(rest) {
		commandHelp(ctx, stdout, name)
		return nil
	}
	cfg, err := config.Load(configPath, env)
	if err != nil {
		return err
	}
	if err := dispatch(ctx, cfg, name, rest, stdout, stderr); err != nil {
		if errors.Is(err, errUsage) {
			return &commandUsage{name: name, err: err}
		}
		return err
	}
	return nil
}

// help is "postern help [COMMAND]": the overview, a group's subcommands
// or one command's help.
func help(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return flag.ErrHelp
	}
	name, rest, err := commandName(args)
	var gu *groupUsage
	switch {
	case errors.Is(err, flag.ErrHelp) || errors.As(err, &gu):
		groupHelp(stdout, args[0])
		return nil
	case err != nil:
		return err
	case len(rest) > 0 && !wantsHelp(rest):
		return fmt.Errorf("%w: help takes one command", errUsage)
	}
	commandHelp(ctx, stdout, name)
	return nil
}

// commandName splits args into the command's name and its arguments. A
// group without a subcommand (or with --help for one) is flag.ErrHelp
// when asked for help, else a usage error naming the subcommands; an
// unknown word is errUnknown with the nearest command suggested.
func commandName(args []string) (string, []string, error) {
	word := args[0]
	if word == "serve" {
		return word, args[1:], nil
	}
	subs := subcommands(word)
	if len(subs) == 0 {
		return "", nil, unknown(word, topWords())
	}
	if len(args) < 2 || wantsHelp(args[1:2]) {
		if len(args) >= 2 {
			return "", nil, flag.ErrHelp
		}
		return "", nil, &groupUsage{group: word}
	}
	if !slices.Contains(subs, args[1]) {
		return "", nil, unknown(word+" "+args[1], qualify(word, subs))
	}
	return word + " " + args[1], args[2:], nil
}

// unknown is the error for an unknown command, suggesting the nearest of
// candidates.
func unknown(name string, candidates []string) error {
	if s := suggest(name, candidates); s != "" {
		return fmt.Errorf("%w %q; did you mean %q?", errUnknown, name, s)
	}
	return fmt.Errorf("%w %q", errUnknown, name)
}

// topWords are the commands' first words.
func topWords() []string {
	words := []string{"serve", "help", "version"}
	for name := range adminCommands {
		if w, _, _ := strings.Cut(name, " "); !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	slices.Sort(words)
	return words
}

// subcommands are the second words of the group's commands, sorted.
func subcommands(group string) []string {
	var subs []string
	for name := range adminCommands {
		if g, sub, ok := strings.Cut(name, " "); ok && g == group {
			subs = append(subs, sub)
		}
	}
	slices.Sort(subs)
	return subs
}

func qualify(group string, subs []string) []string {
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = group + " " + s
	}
	return out
}

// wantsHelp reports whether args ask for help: -h, -help or --help
// before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
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

// dispatch runs the command name. An admin command refuses to open a
// data directory that does not exist yet (see checkData); serve creates
// it, and says so in its log.
func dispatch(ctx context.Context, cfg config.Config, name string, args []string, stdout, stderr io.Writer) error {
	if name == "serve" {
		return serve(ctx, cfg, args, stderr)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := checkData(ctx, cfg, name, args, stderr); err != nil {
		return err
	}
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	return adminCommands[name](ctx, a, args, stdout, stderr)
}

// checkData stops an admin command that would open an installation
// whose data do not exist: run from the wrong directory, or with the
// wrong --config, it would otherwise create an empty one and report
// nothing there, and the next run would not even see a difference. An
// error tells at once and leaves nothing behind. user create, the first
// command of a new installation, goes on, and says where it creates it;
// but only with well-formed arguments (its own flags and one name), so
// that a mistyped first try leaves nothing behind either.
func checkData(ctx context.Context, cfg config.Config, name string, args []string, stderr io.Writer) error {
	err := app.CheckData(cfg)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, app.ErrNoData):
		return err
	case name == "user create":
		if fs := commandFlags(ctx, name); fs != nil {
			if pos, perr := parseFlags(fs, args); perr != nil || len(pos) != 1 {
				d, _ := docOf(name)
				return fmt.Errorf("%w: expected %s %s", errUsage, name, d.synopsis)
			}
		}
		fmt.Fprintf(stderr, "postern: %s: creating a new installation there (not it? give --config FILE)\n", printable(err.Error()))
		return nil
	}
	return fmt.Errorf("%w: wrong directory or --config?", err)
}

// parseFlags parses fs allowing positional arguments between flags
// ("user create NAME --parent P") and returns the positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &helpRequest{fs: fs}
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

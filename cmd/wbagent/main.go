// Command wbagent is Writeback Agent's command line, for IT, developers and tests. It talks
// to the service (wbagentd) over the local API. The contract — commands, --json shapes
// and exit codes — is docs/cli.md.
//
//	wbagent status [--json]
//	wbagent doctor
//	wbagent queue list [--state S] [--json]
//	wbagent queue show ID [--json]
//	wbagent confirm ID --online-visible=true|false [--version N] [--json]
//	wbagent reject ID --reason TEXT [--json]
//	wbagent retry ID [--json]
//	wbagent cancel ID --reason TEXT [--json]
//	wbagent enqueue FILE [--json]
//	wbagent link [--username U --password P] [--json]
//	wbagent unlink [--user OSUSERID] [--json]
//	wbagent diag --out FILE.zip
//	wbagent watch [--json]
//	wbagent metrics [--out FILE]
//	wbagent version
//
// Every command takes --socket PATH (default $WBAGENT_SOCKET, else the platform's).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/safesocket"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

// Exit codes (doctor has its own: see doctor.go).
const (
	exitOK    = 0
	exitError = 1 // the command failed, or the service is not running
	exitUsage = 2 // the command line is wrong
)

// SocketEnv names the environment variable that overrides the default socket.
const SocketEnv = "WBAGENT_SOCKET"

// requestTimeout bounds a command's requests (not watch, link or enqueue's upload).
const requestTimeout = time.Minute

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &streams{in: os.Stdin, out: os.Stdout, err: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// streams is a command's connection to the world.
type streams struct {
	in     io.Reader
	out    io.Writer
	err    io.Writer
	getenv func(string) string
}

// command is one wbagent command.
type command struct {
	name    string
	args    string // the positional arguments, for usage
	summary string
	flags   func(fs *flag.FlagSet) // the command's own flags
	run     func(ctx context.Context, inv *invocation) int
	nargs   int // how many positional arguments it takes
}

// invocation is a parsed command line.
type invocation struct {
	*streams
	cmd    *command
	fs     *flag.FlagSet
	socket string
	json   bool
	pos    []string
}

// client returns a client of the service at --socket.
func (inv *invocation) client() *client.Client { return client.New(inv.socket) }

// fail reports err in one line and returns the exit code for it.
func (inv *invocation) fail(err error) int {
	fmt.Fprintln(inv.err, "wbagent:", oneLine(err.Error()))
	return exitError
}

// usageError reports a wrong command line.
func (inv *invocation) usageError(msg string) int {
	fmt.Fprintf(inv.err, "wbagent %s: %s\nusage: wbagent %s %s\n", inv.cmd.name, msg, inv.cmd.name, inv.cmd.args)
	return exitUsage
}

// id parses the ID argument.
func (inv *invocation) id() (uint64, bool) {
	id, err := strconv.ParseUint(inv.pos[0], 10, 64)
	return id, err == nil && id > 0
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

var commands = []*command{
	{name: "status", summary: "overall state, queue counts and conditions", run: runStatus},
	{name: "doctor", summary: "the integration checklist with fixes (exit 0 all good, 1 warnings, 2 blocking)", run: runDoctor},
	{name: "queue list", summary: "list queued writebacks (no patient data)", run: runQueueList,
		flags: func(fs *flag.FlagSet) {
			fs.Var(&stateList{}, "state", "only records in state `S` (repeatable, or comma-separated)")
		}},
	{name: "queue show", args: "ID", nargs: 1, summary: "show one writeback (its content if it is yours)", run: runQueueShow},
	{name: "confirm", args: "ID --online-visible=true|false", nargs: 1, summary: "confirm your filing", run: runConfirm,
		flags: func(fs *flag.FlagSet) {
			fs.Var(&choice{}, "online-visible", "`true|false`: whether the patient sees the consultation online (required: there is no default)")
			fs.Uint64("version", 0, "the record `version` you reviewed (refused if it changed since)")
		}},
	{name: "reject", args: "ID --reason TEXT", nargs: 1, summary: "reject your filing", run: runReject, flags: reasonFlag},
	{name: "retry", args: "ID", nargs: 1, summary: "check a writeback that needed attention again, or retry it now", run: runRetry},
	{name: "cancel", args: "ID --reason TEXT", nargs: 1, summary: "withdraw a writeback (administrators)", run: runCancel, flags: reasonFlag},
	{name: "enqueue", args: "FILE", nargs: 1, summary: "queue a writeback/v1 document (administrators; - reads standard input)", run: runEnqueue},
	{name: "link", summary: "sign in to the clinical system and link this user", run: runLink,
		flags: func(fs *flag.FlagSet) {
			fs.String("username", "", "sign in with the password grant as `U` (automated testing only)")
			fs.String("password", "", "the password for --username (automated testing only)")
		}},
	{name: "unlink", summary: "remove this user's link (administrators: --user)", run: runUnlink,
		flags: func(fs *flag.FlagSet) { fs.String("user", "", "unlink the OS user with this `id` (uid or SID)") }},
	{name: "diag", summary: "write a diagnostics bundle for IT, without patient data (administrators)", run: runDiag,
		flags: func(fs *flag.FlagSet) { fs.String("out", "", "the `FILE.zip` to write") }},
	{name: "watch", summary: "print events as they happen, until Ctrl-C", run: runWatch},
	{name: "metrics", summary: "print the metrics (Prometheus text), or write them to --out for a textfile collector", run: runMetrics,
		flags: func(fs *flag.FlagSet) { fs.String("out", "", "write to `FILE` (replaced whole) instead of printing") }},
	{name: "version", summary: "print the version", run: func(_ context.Context, inv *invocation) int {
		fmt.Fprintln(inv.out, "wbagent", version)
		return exitOK
	}},
}

func reasonFlag(fs *flag.FlagSet) { fs.String("reason", "", "why (required)") }

func run(ctx context.Context, args []string, s *streams) int {
	inv, code, ok := parse(args, s)
	if !ok {
		return code
	}
	return inv.cmd.run(ctx, inv)
}

// parse finds the command (its words may come after flags) and parses its flags, which may
// come before or after its arguments.
func parse(args []string, s *streams) (*invocation, int, bool) {
	words, rest := commandWords(args)
	var cmd *command
	for _, c := range commands {
		if n := len(strings.Fields(c.name)); len(words) >= n && strings.Join(words[:n], " ") == c.name {
			cmd, rest = c, append(words[n:], rest...)
			break
		}
	}
	if cmd == nil {
		usage(s.err, words)
		return nil, exitUsage, false
	}
	inv := &invocation{streams: s, cmd: cmd, fs: flag.NewFlagSet("wbagent "+cmd.name, flag.ContinueOnError)}
	inv.fs.SetOutput(s.err)
	defSocket := s.getenv(SocketEnv)
	if defSocket == "" {
		defSocket = safesocket.DefaultPath()
	}
	inv.fs.StringVar(&inv.socket, "socket", defSocket, "the service's local API `PATH` ($"+SocketEnv+")")
	if cmd.name != "version" && cmd.name != "diag" && cmd.name != "doctor" && cmd.name != "metrics" {
		inv.fs.BoolVar(&inv.json, "json", false, "print JSON (docs/cli.md)")
	}
	if cmd.flags != nil {
		cmd.flags(inv.fs)
	}
	for {
		if err := inv.fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		if inv.fs.NArg() == 0 {
			break
		}
		inv.pos = append(inv.pos, inv.fs.Arg(0))
		rest = inv.fs.Args()[1:]
	}
	if len(inv.pos) != cmd.nargs {
		return nil, inv.usageError(fmt.Sprintf("takes %d argument(s), got %d", cmd.nargs, len(inv.pos))), false
	}
	return inv, exitOK, true
}

// commandWords splits args into the words before the first flag or argument that is not a
// command word, skipping leading global flags (--socket PATH, --json).
func commandWords(args []string) (words, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--socket" || a == "-socket":
			if i+1 < len(args) {
				rest = append(rest, a, args[i+1])
				i++
				continue
			}
			rest = append(rest, a)
		case strings.HasPrefix(a, "-"):
			rest = append(rest, a)
		case len(words) < 2 && isCommandWord(a, words):
			words = append(words, a)
		default:
			return words, append(rest, args[i:]...)
		}
	}
	return words, rest
}

func isCommandWord(w string, before []string) bool {
	prefix := strings.Join(append(append([]string{}, before...), w), " ")
	for _, c := range commands {
		if c.name == prefix || strings.HasPrefix(c.name, prefix+" ") {
			return true
		}
	}
	return false
}

func usage(w io.Writer, words []string) {
	if len(words) > 0 {
		fmt.Fprintf(w, "wbagent: unknown command %q\n", strings.Join(words, " "))
	}
	fmt.Fprintln(w, "usage: wbagent COMMAND [--socket PATH] ...")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-32s %s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
}

// withTimeout bounds a command's requests.
func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, requestTimeout)
}

// str, boolean and uint return the value of a command's flag.
func (inv *invocation) str(name string) string { return inv.fs.Lookup(name).Value.String() }

func (inv *invocation) boolean(name string) bool {
	return inv.fs.Lookup(name).Value.(flag.Getter).Get().(bool)
}

func (inv *invocation) uint(name string) uint64 {
	return inv.fs.Lookup(name).Value.(flag.Getter).Get().(uint64)
}

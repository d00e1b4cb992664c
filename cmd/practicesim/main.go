// Command practicesim runs a simulated EMIS-X practice on loopback: an
// OAuth 2.0 / OpenID Connect provider, the Partner API operations the
// Writeback Agent uses, and an admin API and page to change the practice's
// EMAS Manager settings and inject faults. See docs/practicesim.md.
//
//	practicesim --listen 127.0.0.1:8642 --state ./practicesim-state [--seed 1] [--token-lifetime 60m]
//
// It prints the base and admin URLs, also as SIM_URL= and SIM_ADMIN_URL=
// lines for scripts, and stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "practicesim:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("practicesim", flag.ContinueOnError)
	flags.SetOutput(stderr)
	listen := flags.String("listen", "127.0.0.1:8642", "loopback `host:port` to serve on (port 0 picks a free one)")
	state := flags.String("state", "", "`folder` for the simulator's state (filed consultations, EMAS settings, sign-ins); required")
	seed := flags.Uint64("seed", sim.DefaultSeed, "seed of the generated practice")
	tokenLifetime := flags.Duration("token-lifetime", sim.DefaultTokenLifetime, "access token lifetime")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *state == "" {
		return errors.New("--state is required")
	}
	if *tokenLifetime <= 0 {
		return errors.New("--token-lifetime must be positive")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := sim.New(sim.Config{
		StateDir:      *state,
		Seed:          *seed,
		TokenLifetime: *tokenLifetime,
		Logger:        slog.New(slog.NewTextHandler(stderr, nil)),
	})
	if err != nil {
		return err
	}
	base, err := s.Start(ctx, *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "practicesim: serving EMIS-X Partner API at %s\n", base)
	fmt.Fprintf(stdout, "practicesim: admin at %s\n", s.AdminURL())
	fmt.Fprintf(stdout, "SIM_URL=%s\n", base)
	fmt.Fprintf(stdout, "SIM_ADMIN_URL=%s/admin\n", base)

	<-ctx.Done()
	fmt.Fprintln(stdout, "practicesim: shutting down")
	return s.Close()
}

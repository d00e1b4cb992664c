// Command wbagentd is the Writeback Agent service: the only process that opens the queue.
//
// This first version runs in the foreground on a data folder, opens (or creates) the
// encrypted queue, reports what it holds and keeps it open until it is stopped. The local
// API, the filing engine and the Windows service wrapper come with later work.
//
//	wbagentd run --data DIR
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/seal"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wbagentd:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] != "run" {
		return errors.New("usage: wbagentd run --data DIR")
	}
	fs := flag.NewFlagSet("wbagentd run", flag.ContinueOnError)
	dataDir := fs.String("data", "", "data folder (queue, keys, logs)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dataDir == "" {
		return errors.New("run: --data DIR is required")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("run: create data folder: %w", err)
	}
	key, err := seal.LoadOrCreateKey(*dataDir)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	q, err := queue.Open(queue.Options{Dir: *dataDir, Key: key, Logger: log})
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	defer q.Close()
	counts, err := q.Counts()
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	attrs := []any{"version", version, "data", *dataDir}
	for _, s := range queue.States {
		attrs = append(attrs, string(s), counts[s])
	}
	log.Info("queue open", attrs...)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("stopping")
	return nil
}

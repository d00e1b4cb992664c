package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// runDiag writes the diagnostics bundle to --out.
func runDiag(ctx context.Context, inv *invocation) int {
	out := inv.str("out")
	if out == "" {
		return inv.usageError("--out FILE.zip is required")
	}
	if err := writeWhole(out, func(w io.Writer) error { return inv.client().Diag(ctx, w) }); err != nil {
		return inv.fail(err)
	}
	fmt.Fprintf(inv.out, "Diagnostics bundle written to %s. It holds no patient data; send it to IT or the supplier.\n", out)
	return exitOK
}

// runMetrics prints the metrics, or writes them to --out.
func runMetrics(ctx context.Context, inv *invocation) int {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	var err error
	if out := inv.str("out"); out != "" {
		err = writeWhole(out, func(w io.Writer) error { return inv.client().Metrics(ctx, w) })
	} else {
		err = inv.client().Metrics(ctx, inv.out)
	}
	if err != nil {
		return inv.fail(err)
	}
	return exitOK
}

// writeWhole writes a file through a temporary one, so that it is replaced only once
// complete and never left half-written.
func writeWhole(path string, fill func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".wbagent-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = fill(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Package dropfolder is the drop folder (source.drop_folder): a folder IT drops
// writeback/v1 files into, for testing, which the service queues exactly as `wbagent
// enqueue` does (package intake: the same validation, the same deduplication on the job id).
//
// The convention (docs/deploying.md): write the file under another name (NAME.json.tmp, or
// anywhere else on the same disk) and rename it to NAME.json when it is complete. Only
// *.json files are read, and only once no change has been seen to them for the settle time,
// so a file copied straight in is read once the copy is done; a file still changing while it
// is read is read again later.
//
// A file queued (a job id already queued counts: queueing is idempotent) is deleted, and
// processed/NAME.receipt.txt says when and as which record: its content lives on only in the
// service's encrypted queue. A file that is not a valid writeback is moved to failed/ with
// NAME.error.txt beside it naming each field at fault and the fix. The error never quotes
// the document's values. A file that could not be read or queued for another reason (the
// queue stopping, the file locked by its writer) stays where it is and is tried again later.
//
// The folder gets the data folder's protection (package paths: SYSTEM and Administrators
// only, owner checked, no reparse points in it), so only administrators can drop files, as
// only they may enqueue. Links are refused at every step: a file is opened without following
// a link (O_NOFOLLOW; FILE_FLAG_OPEN_REPARSE_POINT) and must be a regular file with one name,
// and processed/ and failed/ must be real folders before anything is written into them.
//
// The folder is watched (fsnotify: ReadDirectoryChangesW, kqueue, inotify) and scanned once
// at start, so files left behind while the service was stopped are picked up; it is never
// polled.
package dropfolder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/durable"
	"github.com/writeback-agent/wbagent/agent/intake"
	"github.com/writeback-agent/wbagent/agent/paths"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// Folder and file names. Serialised (IT relies on them): never change them.
const (
	ProcessedDir  = "processed"
	FailedDir     = "failed"
	ErrorSuffix   = ".error.txt"
	ReceiptSuffix = ".receipt.txt"
	Extension     = ".json"
)

// Name is the component's name, also the actor in the queue's audit trail.
const Name = "drop-folder"

// CodeUnavailable is the condition reported when the drop folder cannot be created or
// watched. Serialised: never change it.
const CodeUnavailable = "drop-folder-unavailable"

// CodeUnsafe is the condition reported when the drop folder is not safe to use: owned by an
// ordinary user, or a link, or holding one. Serialised: never change it.
const CodeUnsafe = "drop-folder-unsafe"

// linkText is the error file of a link dropped in the folder.
const linkText = "This file was not read: it is a link (a symbolic link, a junction or a file with several names), not a file of its own.\n" +
	"Fix: copy the writeback file itself into the drop folder.\n"

// errLink says a path is a link (symbolic, hard, junction) or not a regular file.
var errLink = errors.New("a link or not a regular file")

// DefaultSettle is how long a file must stay unchanged before it is read.
const DefaultSettle = 2 * time.Second

// retryAfter is how long a file that could not be read or queued waits for another try.
const retryAfter = time.Minute

var actor = queue.Actor{Component: Name}

// Component watches the drop folder. Its zero value uses the configuration
// (source.drop_folder); without it the component does nothing.
type Component struct {
	Settle time.Duration // quiet time before a file is read; zero: DefaultSettle
}

// Name implements service.Component.
func (Component) Name() string { return Name }

// Run implements service.Component: it queues the files dropped until ctx ends.
func (c Component) Run(ctx context.Context, env service.Env) error {
	dir := env.Config.Source.DropFolder
	if dir == "" {
		<-ctx.Done()
		return nil
	}
	if c.Settle <= 0 {
		c.Settle = DefaultSettle
	}
	w, err := open(dir)
	var unsafe *paths.UnsafeError
	if errors.As(err, &unsafe) {
		env.Logger.Error("drop folder not safe to use", "code", CodeUnsafe, "folder", unsafe.Path, "problem", unsafe.Problem, "fix", unsafe.Fix)
		env.Conditions.Set(Name, []condition.Condition{{
			Code: CodeUnsafe, Severity: condition.Warning, Owner: condition.IT,
			Title: "The drop folder is not safe to use: " + unsafe.Problem,
			Fix:   unsafe.Fix + ".\nOr remove " + config.SettingDropFolder + " from config.toml. Then restart the Writeback Agent service.",
		}})
		<-ctx.Done()
		return nil
	}
	if err != nil {
		env.Logger.Error("drop folder unavailable", "folder", dir, "err", err)
		env.Conditions.Set(Name, []condition.Condition{{
			Code: CodeUnavailable, Severity: condition.Warning, Owner: condition.IT,
			Title: "The drop folder cannot be used",
			Fix: "Check that the folder in " + config.SettingDropFolder + " (config.toml) exists on a local disk and the service may write to it, or remove the setting.\n" +
				"Then restart the Writeback Agent service.",
		}})
		<-ctx.Done()
		return nil
	}
	defer w.Close()
	env.Conditions.Set(Name, nil)
	l := &loop{c: c, env: env, dir: dir, timers: map[string]*time.Timer{}, due: make(chan string)}
	defer l.stopTimers()
	l.purgeProcessed()
	l.scan(ctx)
	env.Logger.Info("watching the drop folder", "folder", dir)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("drop folder: watcher closed")
			}
			if ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename|fsnotify.Chmod) != 0 && filepath.Dir(ev.Name) == filepath.Clean(dir) {
				l.schedule(ctx, filepath.Base(ev.Name), c.Settle)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("drop folder: watcher closed")
			}
			env.Logger.Warn("drop folder: watch error; scanning the folder", "err", err)
			l.scan(ctx)
		case name := <-l.due:
			delete(l.timers, name)
			l.process(ctx, name)
		}
	}
}

// open creates the drop folder and its subfolders if need be, protects it as the data folder
// is (an *paths.UnsafeError if it cannot be trusted), and watches it.
func open(dir string) (*fsnotify.Watcher, error) {
	if err := paths.Secure(dir); err != nil {
		return nil, fmt.Errorf("drop folder: %w", err)
	}
	for _, sub := range []string{ProcessedDir, FailedDir} {
		d := filepath.Join(dir, sub)
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("drop folder: create: %w", err)
		}
		if err := checkSubfolder(d); err != nil {
			return nil, err
		}
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("drop folder: watch: %w", err)
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("drop folder: watch: %w", err)
	}
	return w, nil
}

type loop struct {
	c      Component
	env    service.Env
	dir    string
	timers map[string]*time.Timer // files waiting to settle, by name (touched by Run only)
	due    chan string
}

// isDropFile reports whether name is a file to read (NAME.json, any case).
func isDropFile(name string) bool {
	return strings.EqualFold(filepath.Ext(name), Extension) && !strings.HasPrefix(name, ".")
}

// scan schedules every file already in the folder.
func (l *loop) scan(ctx context.Context) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		l.env.Logger.Warn("drop folder: cannot list the folder", "err", err)
		return
	}
	for _, e := range entries {
		if e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0 {
			l.schedule(ctx, e.Name(), l.c.Settle)
		}
	}
}

// schedule reads name after it has been quiet for d (the wait starts again at each change).
func (l *loop) schedule(ctx context.Context, name string, d time.Duration) {
	if !isDropFile(name) {
		return
	}
	if t, ok := l.timers[name]; ok {
		t.Reset(d)
		return
	}
	l.timers[name] = time.AfterFunc(d, func() {
		select {
		case l.due <- name:
		case <-ctx.Done():
		}
	})
}

func (l *loop) stopTimers() {
	for _, t := range l.timers {
		t.Stop()
	}
}

// process reads one file, queues it and moves it.
func (l *loop) process(ctx context.Context, name string) {
	path := filepath.Join(l.dir, name)
	log := l.env.Logger
	before, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return // moved away (by us, or by IT)
	case err != nil:
		log.Warn("drop folder: cannot read a file; trying again later", "err", err)
		l.schedule(ctx, name, retryAfter)
		return
	case before.Mode()&fs.ModeSymlink != 0:
		log.Warn("drop folder: a file is a symbolic link; moved to failed, not read")
		l.fail(name, linkText)
		return
	case !before.Mode().IsRegular():
		return
	case before.Size() > intake.MaxDocumentBytes:
		l.fail(name, fmt.Sprintf("The file is larger than %d bytes, the most a writeback/v1 document may be.\n"+
			"Fix: make the attachments smaller or fewer, then drop the file again.\n", intake.MaxDocumentBytes))
		return
	}
	res, err := l.submit(ctx, path)
	if errors.Is(err, errLink) {
		log.Warn("drop folder: a file is a link, or has other names; moved to failed", "err", err)
		l.fail(name, linkText)
		return
	}
	if after, serr := os.Lstat(path); serr != nil || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		// Still being written: whatever was read is not the file. (Queued regardless if it
		// was valid; the job id deduplicates the next read.)
		l.schedule(ctx, name, l.c.Settle)
		return
	}
	var ve *writeback.ValidationError
	switch {
	case errors.As(err, &ve):
		log.Warn("drop folder: a file is not a valid writeback; moved to failed", "problems", ve.Error())
		l.fail(name, errorText(ve))
	case err != nil:
		if ctx.Err() != nil {
			return
		}
		log.Warn("drop folder: a file could not be queued; trying again later", "err", err, "retryIn", retryAfter)
		l.schedule(ctx, name, retryAfter)
	case res.Conflict:
		log.Warn("drop folder: job id already queued with different content; the first is kept; moved to failed",
			"record", res.ID, "jobId", res.JobID)
		l.fail(name, "A writeback with the jobId of this file is already queued with different content; the one queued first is kept.\n"+
			"Fix: give this writeback a new jobId, then drop the file again.\n")
	default:
		log.Info("writeback queued from the drop folder", "record", res.ID, "jobId", res.JobID, "created", res.Created)
		if err := l.processed(name, res); err != nil {
			log.Error("drop folder: a queued file could not be deleted (it is queued; its receipt may be missing)", "err", err)
		}
	}
}

// processed writes processed/NAME.receipt.txt for a queued file, then deletes the file: its
// content is kept only in the service's encrypted queue. The receipt carries no patient
// data: when, the record and the job id.
func (l *loop) processed(name string, res queue.Result) error {
	sub := filepath.Join(l.dir, ProcessedDir)
	if err := checkSubfolder(sub); err != nil {
		return err
	}
	what := "queued as record " + strconv.FormatUint(res.ID, 10)
	if !res.Created {
		what = "already queued as record " + strconv.FormatUint(res.ID, 10) + " (the same jobId and content): nothing new was queued"
	}
	text := fmt.Sprintf("Writeback Agent read this file at %s: %s, jobId %q.\n"+
		"The file was deleted: its content is kept, encrypted, only in the service's queue (wbagent queue show %d).\n",
		time.Now().UTC().Format(time.RFC3339), what, res.JobID, res.ID)
	receipt := l.freeName(ProcessedDir, strings.TrimSuffix(name, filepath.Ext(name)), ReceiptSuffix, "")
	if err := durable.WriteFile(filepath.Join(sub, receipt), []byte(text), 0o600); err != nil {
		return fmt.Errorf("drop folder: write the receipt: %w", err)
	}
	if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
		return fmt.Errorf("drop folder: delete the queued file: %w", err)
	}
	return durable.SyncDir(l.dir)
}

// purgeProcessed deletes the queued files earlier versions kept in processed/ (patient data
// in clear), each replaced by a receipt.
func (l *loop) purgeProcessed() {
	sub := filepath.Join(l.dir, ProcessedDir)
	entries, err := os.ReadDir(sub)
	if err != nil {
		l.env.Logger.Warn("drop folder: cannot list processed", "err", err)
		return
	}
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || !isDropFile(e.Name()) {
			continue
		}
		base := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
		receipt := l.freeName(ProcessedDir, base, ReceiptSuffix, "")
		text := "This file was queued by an earlier version of Writeback Agent, which kept it here; it was deleted at " +
			time.Now().UTC().Format(time.RFC3339) + ": its content is kept, encrypted, only in the service's queue.\n"
		if err := durable.WriteFile(filepath.Join(sub, receipt), []byte(text), 0o600); err != nil {
			l.env.Logger.Error("drop folder: a receipt could not be written; the processed file is kept", "err", err)
			continue
		}
		if err := os.Remove(filepath.Join(sub, e.Name())); err != nil {
			l.env.Logger.Error("drop folder: a processed file could not be deleted", "err", err)
			continue
		}
		n++
	}
	if n > 0 {
		l.env.Logger.Info("drop folder: deleted the queued files earlier versions kept in processed", "files", n)
	}
}

// checkSubfolder returns an *paths.UnsafeError unless path is a folder that is not a link.
func checkSubfolder(path string) error {
	link, err := isLink(path)
	if err != nil {
		return fmt.Errorf("drop folder: %w", err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("drop folder: %w", err)
	}
	if link || !fi.IsDir() {
		return &paths.UnsafeError{Path: path, Problem: "it is a link (junction or symbolic link) or not a folder: the service's files could be sent elsewhere",
			Fix: "stop the service, delete it (rmdir on the link itself), then start the service: it creates the folder afresh"}
	}
	return nil
}

// freeName returns base+suffix, or base-N+suffix, such that neither it nor base-N+alsoFree
// (if alsoFree is set) exists in sub.
func (l *loop) freeName(sub, base, suffix, alsoFree string) string {
	target := base + suffix
	for i := 2; ; i++ {
		_, err1 := os.Lstat(filepath.Join(l.dir, sub, target))
		free := errors.Is(err1, fs.ErrNotExist)
		if alsoFree != "" {
			_, err2 := os.Lstat(filepath.Join(l.dir, sub, strings.TrimSuffix(target, suffix)+alsoFree))
			free = free && errors.Is(err2, fs.ErrNotExist)
		}
		if free {
			return target
		}
		target = base + "-" + strconv.Itoa(i) + suffix
	}
}

// submit queues the file at path through intake (the same path as wbagent enqueue).
func (l *loop) submit(ctx context.Context, path string) (queue.Result, error) {
	f, err := openFile(path)
	if err != nil {
		return queue.Result{}, fmt.Errorf("drop folder: open: %w", err)
	}
	defer f.Close()
	return intake.Submit(ctx, l.env.Queue, io.LimitReader(f, intake.MaxDocumentBytes+1), actor)
}

// errorText is the content of NAME.error.txt: each problem, naming the field and the fix.
func errorText(ve *writeback.ValidationError) string {
	var b strings.Builder
	b.WriteString("This file was not queued: it is not a valid writeback/v1 document (docs/writeback.schema.json).\n\n")
	for _, p := range ve.Problems {
		b.WriteString("- ")
		b.WriteString(p.String())
		b.WriteString("\n")
	}
	b.WriteString("\nFix each problem above, then drop the corrected file into the drop folder again.\n")
	return b.String()
}

// fail moves name to failed/, with the error text beside it.
func (l *loop) fail(name, text string) {
	if _, err := l.move(name, FailedDir, text); err != nil {
		l.env.Logger.Error("drop folder: an invalid file could not be moved to failed", "err", err)
	}
}

// move moves name into sub, under a new name if one of that name is already there, having
// first written errText (if any) beside where it goes. It returns the name it was given.
func (l *loop) move(name, sub, errText string) (string, error) {
	if err := checkSubfolder(filepath.Join(l.dir, sub)); err != nil {
		return "", err
	}
	ext := filepath.Ext(name)
	target := l.freeName(sub, strings.TrimSuffix(name, ext), ext, ErrorSuffix)
	if errText != "" {
		errPath := filepath.Join(l.dir, sub, strings.TrimSuffix(target, ext)+ErrorSuffix)
		if err := durable.WriteFile(errPath, []byte(errText), 0o600); err != nil {
			return "", fmt.Errorf("drop folder: write %s: %w", filepath.Base(errPath), err)
		}
	}
	if err := os.Rename(filepath.Join(l.dir, name), filepath.Join(l.dir, sub, target)); err != nil {
		return "", fmt.Errorf("drop folder: move to %s: %w", sub, err)
	}
	return target, nil
}

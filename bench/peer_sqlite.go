package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"

	_ "modernc.org/sqlite" // pure-Go SQLite, driver "sqlite"
)

// SQLite through modernc.org/sqlite (pure Go), journal_mode=WAL, synchronous=FULL (each
// commit fsyncs the WAL before returning), one database/sql pool. Two ways to use it
// durably, both measured; "peers" in the JSON gets the better one (group "sqlite"):
//
//   - sqlite-groupcommit: our own group-commit writer goroutine owns one connection; every
//     Enqueue and Done is sent to it, and it runs all requests waiting at that moment
//     (up to sqliteMaxBatch) in one BEGIN IMMEDIATE … COMMIT, i.e. one fsync for the lot,
//     then answers each. This is SQLite's best durable mode under concurrency.
//   - sqlite-txn: one autocommit transaction per INSERT / DELETE through the pool
//     (sqliteTxnPool connections: SQLite has one writer at a time, and extra connections
//     only add busy-wait sleeps, so a small pool is fastest).
//
// Table q(id INTEGER PRIMARY KEY AUTOINCREMENT, job_id, payload). AUTOINCREMENT never
// reuses an id and only one transaction writes at a time, so ids are committed in
// increasing order: Claim (an in-memory lease) reads the first row with id > the last
// claimed id through the pool — a read, no fsync — and Done deletes the row.
func init() {
	register("sqlite-groupcommit", func(dir string) (Store, error) { return openSQLite(dir, true) },
		inGroup("sqlite"), withNote("WAL, synchronous=FULL, own group-commit writer"))
	register("sqlite-txn", func(dir string) (Store, error) { return openSQLite(dir, false) },
		inGroup("sqlite"), withNote("WAL, synchronous=FULL, 1 txn per op"))
}

const (
	sqliteMaxBatch = 256
	sqliteTxnPool  = 1
)

type sqliteOp struct {
	insert  bool
	jobID   string
	payload []byte
	id      int64
	done    chan error
}

type sqliteStore struct {
	db          *sql.DB
	groupCommit bool

	// group commit
	ops    chan *sqliteOp
	wg     sync.WaitGroup
	conn   *sql.Conn
	insert *sql.Stmt // prepared on conn
	delete *sql.Stmt // prepared on conn

	// txn per op
	insertPool *sql.Stmt
	deletePool *sql.Stmt

	claimMu   sync.Mutex
	lastID    int64
	claimStmt *sql.Stmt
}

func openSQLite(dir string, groupCommit bool) (Store, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + filepath.Join(dir, "queue.sqlite") + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	s := &sqliteStore{db: db, groupCommit: groupCommit}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *sqliteStore) init() error {
	ctx := context.Background()
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS q (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		job_id TEXT NOT NULL,
		payload BLOB NOT NULL)`); err != nil {
		return err
	}
	var mode, sync string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return err
	}
	if mode != "wal" || sync != "2" { // 2 = FULL
		return fmt.Errorf("sqlite: journal_mode=%s synchronous=%s, want wal and 2 (FULL)", mode, sync)
	}
	var err error
	if s.claimStmt, err = s.db.PrepareContext(ctx, "SELECT id, payload FROM q WHERE id > ? ORDER BY id LIMIT 1"); err != nil {
		return err
	}
	if !s.groupCommit {
		s.db.SetMaxOpenConns(sqliteTxnPool + 1) // + 1 for Claim's reads
		if s.insertPool, err = s.db.PrepareContext(ctx, "INSERT INTO q(job_id, payload) VALUES(?, ?)"); err != nil {
			return err
		}
		s.deletePool, err = s.db.PrepareContext(ctx, "DELETE FROM q WHERE id = ?")
		return err
	}
	s.db.SetMaxOpenConns(4) // the writer's connection + readers for Claim
	if s.conn, err = s.db.Conn(ctx); err != nil {
		return err
	}
	if s.insert, err = s.conn.PrepareContext(ctx, "INSERT INTO q(job_id, payload) VALUES(?, ?)"); err != nil {
		return err
	}
	if s.delete, err = s.conn.PrepareContext(ctx, "DELETE FROM q WHERE id = ?"); err != nil {
		return err
	}
	s.ops = make(chan *sqliteOp, sqliteMaxBatch)
	s.wg.Add(1)
	go s.writer()
	return nil
}

func (s *sqliteStore) Name() string {
	if s.groupCommit {
		return fmt.Sprintf("modernc.org/sqlite v1.61.1, WAL, synchronous=FULL, group-commit writer goroutine (≤%d ops per transaction)", sqliteMaxBatch)
	}
	return fmt.Sprintf("modernc.org/sqlite v1.61.1, WAL, synchronous=FULL, one autocommit transaction per op, pool of %d writer connection(s)", sqliteTxnPool)
}

// writer is the group-commit loop: take one request, then everything already waiting,
// and commit them in one transaction.
func (s *sqliteStore) writer() {
	defer s.wg.Done()
	batch := make([]*sqliteOp, 0, sqliteMaxBatch)
	for op := range s.ops {
		batch = append(batch[:0], op)
	more:
		for len(batch) < sqliteMaxBatch {
			select {
			case op, ok := <-s.ops:
				if !ok {
					break more
				}
				batch = append(batch, op)
			default:
				break more
			}
		}
		err := s.commit(batch)
		for _, op := range batch {
			op.done <- err
		}
	}
}

func (s *sqliteStore) commit(batch []*sqliteOp) error {
	ctx := context.Background()
	tx, err := s.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	ins, del := tx.StmtContext(ctx, s.insert), tx.StmtContext(ctx, s.delete)
	for _, op := range batch {
		if op.insert {
			_, err = ins.ExecContext(ctx, op.jobID, op.payload)
		} else {
			_, err = del.ExecContext(ctx, op.id)
		}
		if err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

func (s *sqliteStore) submit(ctx context.Context, op *sqliteOp) error {
	op.done = make(chan error, 1)
	select {
	case s.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-op.done
}

func (s *sqliteStore) Enqueue(ctx context.Context, jobID string, payload []byte) error {
	if !s.groupCommit {
		_, err := s.insertPool.ExecContext(ctx, jobID, payload)
		return err
	}
	return s.submit(ctx, &sqliteOp{insert: true, jobID: jobID, payload: payload})
}

func (s *sqliteStore) Claim(ctx context.Context) (string, []byte, bool, error) {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	var (
		id      int64
		payload []byte
	)
	err := s.claimStmt.QueryRowContext(ctx, s.lastID).Scan(&id, &payload)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, err
	}
	s.lastID = id
	return strconv.FormatInt(id, 10), payload, true, nil
}

func (s *sqliteStore) Done(ctx context.Context, id string) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return fmt.Errorf("sqlite: bad id %q", id)
	}
	if !s.groupCommit {
		_, err := s.deletePool.ExecContext(ctx, n)
		return err
	}
	return s.submit(ctx, &sqliteOp{id: n})
}

func (s *sqliteStore) Close() error {
	if s.groupCommit {
		close(s.ops)
		s.wg.Wait()
		s.insert.Close()
		s.delete.Close()
		s.conn.Close()
	}
	return s.db.Close()
}

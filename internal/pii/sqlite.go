package pii

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"time"

	_ "github.com/mattn/go-sqlite3" // the SQLite driver
)

// Sealer seals the keys a key store keeps with a key of its own
// (SECRETS_KEY, see internal/secrets), so that a copy of the key store
// alone opens nothing.
type Sealer interface {
	Seal(plaintext string) (string, error)
	Open(sealed string) (string, error)
}

// SQLiteKeys is the embedded key store: one SQLite file (keys.db in the
// data dir), apart from the read store's, which may be deleted and
// rebuilt. It is safe for concurrent use.
type SQLiteKeys struct {
	db     *sql.DB
	sealer Sealer
	now    func() time.Time
}

// OpenSQLite opens (creating it, readable by its owner only) the key
// store at path, its keys sealed with sealer.
func OpenSQLite(path string, sealer Sealer) (*SQLiteKeys, error) {
	if sealer == nil {
		return nil, errors.New("pii: a Sealer is required")
	}
	// SQLite gives its journal the database file's permissions.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("pii: create %s: %w", path, err)
	}
	// secure_delete overwrites a forgotten key's bytes in the file rather
	// than leaving them on a free page, and the rollback journal (not a
	// WAL) is deleted after each write instead of keeping old pages
	// around. Writes are one per new user: speed does not matter here.
	db, err := sql.Open("sqlite3", path+"?_journal_mode=DELETE&_synchronous=FULL&_secure_delete=true&_busy_timeout=5000&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("pii: open %s: %w", path, err)
	}
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS pii_keys (
		subject      TEXT PRIMARY KEY,
		sealed_key   TEXT,    -- NULL once forgotten
		forgotten_at TEXT     -- when it was forgotten, else NULL
	)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("pii: open %s: %w", path, err)
	}
	return &SQLiteKeys{db: db, sealer: sealer, now: time.Now}, nil
}

// Key implements Keys.
func (k *SQLiteKeys) Key(ctx context.Context, subject string) ([]byte, bool, error) {
	var sealed sql.NullString
	err := k.db.QueryRowContext(ctx, `SELECT sealed_key FROM pii_keys WHERE subject = ?`, subject).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pii: read key: %w", err)
	}
	if !sealed.Valid {
		return nil, false, nil
	}
	key, err := OpenKey(k.sealer, sealed.String)
	return key, err == nil, err
}

// Create implements Keys.
func (k *SQLiteKeys) Create(ctx context.Context, subject string) ([]byte, error) {
	key, err := NewKey()
	if err != nil {
		return nil, err
	}
	sealed, err := SealKey(k.sealer, key)
	if err != nil {
		return nil, err
	}
	// The first writer wins; everyone reads back what it wrote.
	if _, err := k.db.ExecContext(ctx, `INSERT INTO pii_keys(subject, sealed_key) VALUES(?, ?) ON CONFLICT(subject) DO NOTHING`, subject, sealed); err != nil {
		return nil, fmt.Errorf("pii: create key: %w", err)
	}
	var stored sql.NullString
	if err := k.db.QueryRowContext(ctx, `SELECT sealed_key FROM pii_keys WHERE subject = ?`, subject).Scan(&stored); err != nil {
		return nil, fmt.Errorf("pii: read key: %w", err)
	}
	if !stored.Valid {
		return nil, ErrForgotten
	}
	return OpenKey(k.sealer, stored.String)
}

// Forget implements Keys: the row stays, without its key, so that no
// new key is ever made for the subject.
func (k *SQLiteKeys) Forget(ctx context.Context, subject string) error {
	_, err := k.db.ExecContext(ctx, `INSERT INTO pii_keys(subject, sealed_key, forgotten_at) VALUES(?, NULL, ?)
		ON CONFLICT(subject) DO UPDATE SET sealed_key = NULL, forgotten_at = coalesce(forgotten_at, excluded.forgotten_at)`,
		subject, k.now().UTC().Format(time.RFC3339))
	if err != nil {
		return fmt.Errorf("pii: forget key: %w", err)
	}
	return nil
}

// Close implements Keys.
func (k *SQLiteKeys) Close() error { return k.db.Close() }

// SealKey seals key for storage with s; the key stores seal every key
// they keep so.
func SealKey(s Sealer, key []byte) (string, error) {
	sealed, err := s.Seal(base64.RawStdEncoding.EncodeToString(key))
	if err != nil {
		return "", fmt.Errorf("pii: seal key: %w", err)
	}
	return sealed, nil
}

// OpenKey opens a key SealKey sealed. A key that does not open is an
// error (another SECRETS_KEY), never an erasure.
func OpenKey(s Sealer, sealed string) ([]byte, error) {
	text, err := s.Open(sealed)
	if err != nil {
		return nil, fmt.Errorf("pii: open key (is SECRETS_KEY the one the keys were sealed with?): %w", err)
	}
	key, err := base64.RawStdEncoding.DecodeString(text)
	if err != nil || len(key) != KeySize {
		return nil, errors.New("pii: a stored key is malformed")
	}
	return key, nil
}

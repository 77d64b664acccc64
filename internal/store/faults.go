package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"sessionhub/models"
)

// SQLite's primary result codes for storage faults.
const (
	sqlitePerm     = 3
	sqliteReadOnly = 8
	sqliteIOErr    = 10
	sqliteFull     = 13
	sqliteCantOpen = 14
)

// storageFault names a write refused by the storage itself — full, or
// read-only (a read-only file, directory or file system, a PostgreSQL
// standby) — with a sentence that says so, or returns nil. Nothing was
// written; it passes when space or write access is back.
func storageFault(err error) *models.Error {
	if err == nil {
		return nil
	}
	if coded, ok := errors.AsType[interface {
		error
		Code() int
	}](err); ok {
		switch coded.Code() & 0xff {
		case sqliteFull:
			return models.ErrStorageFull()
		case sqliteReadOnly, sqliteCantOpen, sqlitePerm:
			return models.ErrStorageReadOnly()
		case sqliteIOErr:
			switch {
			case errors.Is(err, syscall.ENOSPC), strings.Contains(err.Error(), "no space left"):
				return models.ErrStorageFull()
			case errors.Is(err, syscall.EROFS), strings.Contains(err.Error(), "read-only file system"):
				return models.ErrStorageReadOnly()
			}
		}
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pgErr.Code {
		case "53100": // disk_full
			return models.ErrStorageFull()
		case "25006": // read_only_sql_transaction: a standby, or default_transaction_read_only
			return models.ErrStorageReadOnly()
		}
	}
	return nil
}

// isUnavailable reports whether err means the database could not be reached
// or did not answer in time, as opposed to a bad query: the request changed
// nothing and can be retried once the database is back. (A storage fault,
// storageFault, is told apart: its statement certainly failed, so a send
// refused by one needs no settling of an unknown outcome.)
func isUnavailable(err error) bool {
	if coded, ok := errors.AsType[interface {
		error
		Code() int
	}](err); ok && coded.Code()&0xff == sqliteIOErr {
		return true // the disk failed the write
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	if pgconn.Timeout(err) {
		return true
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57014", // query_canceled: statement_timeout
			pgErr.Code == "57P01", // admin_shutdown
			pgErr.Code == "57P02", // crash_shutdown
			pgErr.Code == "57P03", // cannot_connect_now
			pgErr.Code == "53300", // too_many_connections
			pgErr.Code == "55P03": // lock_not_available
			return true
		}
	}
	// SQLite: another process holds the write lock past busy_timeout.
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked") ||
		strings.Contains(msg, "conn closed") || strings.Contains(msg, "failed to connect")
}

package models

import "time"

// Persisted queries (GraphQL automatic persisted queries, APQ) are kept in
// the database so that every replica knows a hash any replica registered.
const (
	// PersistedQueryTTL is how long a registered query is kept after its
	// last registration; a client asking for a forgotten hash is told
	// PERSISTED_QUERY_NOT_FOUND and registers it again.
	PersistedQueryTTL = 30 * 24 * time.Hour
	// MaxPersistedQueries bounds how many are kept: the sweep forgets the
	// least recently registered beyond it.
	MaxPersistedQueries = 10000
	// MaxPersistedQueryBytes bounds the text of a query that is persisted;
	// a longer one still runs, it is just not remembered.
	MaxPersistedQueryBytes = 32 << 10
)

// PersistedQuery is one registered GraphQL document, keyed by the SHA-256
// (hex) of its text.
type PersistedQuery struct {
	Hash         string    `gorm:"primaryKey"`
	Query        string    `gorm:"not null"`
	RegisteredAt time.Time `gorm:"not null"`
}

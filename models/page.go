package models

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Key is a position in a list ordered by (CreatedAt, ID): messages of a
// session, or sessions. Ids break ties between equal timestamps, so keyset
// pages never drop or repeat an item.
type Key struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// KeyOf returns the position of an item.
func KeyOf(createdAt time.Time, id uuid.UUID) Key { return Key{CreatedAt: createdAt, ID: id} }

// Before returns the key just before every item created at t: a bound that
// selects by timestamp alone (the reference's millisecond cursors).
func Before(t time.Time) Key { return Key{CreatedAt: t, ID: uuid.Nil} }

// After returns the key just after every item created at t.
func After(t time.Time) Key { return Key{CreatedAt: t, ID: uuid.Max} }

// After reports whether k comes after o in (CreatedAt, ID) order.
func (k Key) After(o Key) bool {
	if !k.CreatedAt.Equal(o.CreatedAt) {
		return k.CreatedAt.After(o.CreatedAt)
	}
	return bytes.Compare(k.ID[:], o.ID[:]) > 0
}

const cursorPrefix = "k1:"

// Cursor encodes the key as an opaque string.
func (k Key) Cursor() string {
	raw := cursorPrefix + strconv.FormatInt(k.CreatedAt.UnixMilli(), 10) + ":" + k.ID.String()
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ParseCursor decodes a cursor made by Key.Cursor. Errors: VALIDATION_ERROR.
func ParseCursor(cursor string) (Key, error) {
	invalid := ErrValidation("Invalid cursor", Detail{"cursor", cursor})
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return Key{}, invalid
	}
	rest, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return Key{}, invalid
	}
	millis, id, ok := strings.Cut(rest, ":")
	if !ok {
		return Key{}, invalid
	}
	ms, err := strconv.ParseInt(millis, 10, 64)
	if err != nil || ms < 0 || ms > maxMillis {
		return Key{}, invalid
	}
	parsed, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		return Key{}, invalid
	}
	return Key{CreatedAt: time.UnixMilli(ms).UTC(), ID: parsed}, nil
}

// maxMillis is the last millisecond of year 9999, the largest time every database stores.
const maxMillis = 253402300799999

// ListQuery selects one page of a (CreatedAt, ID)-ordered list, for stores.
// Older and Newer are exclusive bounds; Limit is the number of rows to fetch.
type ListQuery struct {
	Older     *Key
	Newer     *Key
	Limit     int
	Ascending bool // oldest first; the default is newest first
}

// PageArgs are Relay connection arguments.
type PageArgs struct {
	First  *int
	After  string
	Last   *int
	Before string
}

// Page size bounds (SPEC §7).
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// PageInfo tells a client where a page sits in its list.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     *string
	EndCursor       *string
}

// PagePlan is how a Relay request is fetched: one keyset query of Size+1
// rows (the extra row tells whether more exist), reversed when Backward.
type PagePlan struct {
	Query    ListQuery
	Size     int
	Backward bool
}

// Plan turns Relay arguments into a keyset query over a list shown newest
// first (newestFirst) or oldest first. first/after pages forward, last/before
// backward; both cursors may bound one request. Errors: VALIDATION_ERROR.
func (a PageArgs) Plan(newestFirst bool) (PagePlan, error) {
	if a.First != nil && a.Last != nil {
		return PagePlan{}, ErrValidation("Pass either first or last, not both")
	}
	size, backward := DefaultPageSize, false
	switch {
	case a.First != nil:
		size = *a.First
	case a.Last != nil:
		size, backward = *a.Last, true
	}
	if size < 1 || size > MaxPageSize {
		return PagePlan{}, ErrValidation("Page size must be between 1 and 100")
	}
	plan := PagePlan{Size: size, Backward: backward, Query: ListQuery{Limit: size + 1}}
	// In display order, "after" a cursor is older when the list is newest first.
	for _, bound := range []struct {
		cursor string
		later  bool // the bound keeps items that come later in display order
	}{{a.After, true}, {a.Before, false}} {
		if bound.cursor == "" {
			continue
		}
		key, err := ParseCursor(bound.cursor)
		if err != nil {
			return PagePlan{}, err
		}
		if bound.later == newestFirst {
			plan.Query.Older = &key
		} else {
			plan.Query.Newer = &key
		}
	}
	// Fetch in display order going forward, in reverse going backward.
	plan.Query.Ascending = newestFirst == backward
	return plan, nil
}

// Finish trims the fetched rows to the page and describes it.
func Finish[T any](plan PagePlan, rows []T, key func(T) Key) ([]T, PageInfo) {
	more := len(rows) > plan.Size
	if more {
		rows = rows[:plan.Size]
	}
	var info PageInfo
	if plan.Backward {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
		info.HasPreviousPage = more
	} else {
		info.HasNextPage = more
	}
	if len(rows) > 0 {
		start, end := key(rows[0]).Cursor(), key(rows[len(rows)-1]).Cursor()
		info.StartCursor, info.EndCursor = &start, &end
	}
	return rows, info
}

package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"sessionhub/models"
)

// PersistedQueries keeps automatic persisted queries (APQ) where every
// replica sees them; *chat.Service (the database) satisfies it.
type PersistedQueries interface {
	// PersistedQuery returns the document registered under hash.
	PersistedQuery(ctx context.Context, hash string) (query string, ok bool, err error)
	// PersistQuery registers query under hash, its SHA-256 (hex).
	PersistQuery(ctx context.Context, hash, query string) error
}

// TrustedDocuments are the documents a deployment vouches for: a manifest
// {sha256 hex: document} as graphql-codegen's client preset writes it with
// persistedDocuments (hashAlgorithm sha256). Clients send the hash alone,
// APQ-style (extensions.persistedQuery.sha256Hash).
type TrustedDocuments struct {
	ByHash map[string]string
	// Only refuses every other document (UNTRUSTED_DOCUMENT), APQ
	// registrations included.
	Only bool
}

// ReadTrustedDocuments reads a manifest file and checks that every key is
// the SHA-256 of its document, so a hash always names exactly one text.
func ReadTrustedDocuments(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var manifest map[string]string
	if err := json.Unmarshal(raw, &manifest); err != nil {
		return nil, fmt.Errorf("not a JSON object of hash to document: %w", err)
	}
	if len(manifest) == 0 {
		return nil, fmt.Errorf("no documents")
	}
	for hash, doc := range manifest {
		if sha256Hex(doc) != hash {
			return nil, fmt.Errorf("key %.16s… is not the SHA-256 of its document (generate the manifest with hashAlgorithm: 'sha256')", hash)
		}
	}
	return manifest, nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// persistedQueryCache is the APQ cache: trusted documents first, then what
// this process has already seen (a hint: a hash names one text forever),
// then the shared store. Failures of the store only cost the client a
// PERSISTED_QUERY_NOT_FOUND (it then sends the full document).
type persistedQueryCache struct {
	trusted map[string]string
	seen    *lru.LRU[string]
	store   PersistedQueries // nil: this process only
	log     *slog.Logger
}

var _ graphql.Cache[string] = (*persistedQueryCache)(nil)

func newPersistedQueryCache(opts Options) *persistedQueryCache {
	c := &persistedQueryCache{seen: lru.New[string](1000), store: opts.PersistedQueries, log: opts.Logger}
	if opts.TrustedDocuments != nil {
		c.trusted = opts.TrustedDocuments.ByHash
	}
	return c
}

func (c *persistedQueryCache) Get(ctx context.Context, hash string) (string, bool) {
	if q, ok := c.trusted[hash]; ok {
		return q, true
	}
	if q, ok := c.seen.Get(ctx, hash); ok {
		return q, true
	}
	if c.store == nil {
		return "", false
	}
	q, ok, err := c.store.PersistedQuery(ctx, hash)
	if err != nil {
		c.log.WarnContext(ctx, "reading a persisted query failed", "err", err)
		return "", false
	}
	if ok {
		c.seen.Add(ctx, hash, q)
	}
	return q, ok
}

// Add registers a document (gqlgen has checked that hash is its SHA-256).
func (c *persistedQueryCache) Add(ctx context.Context, hash, query string) {
	if _, ok := c.trusted[hash]; ok {
		return
	}
	if _, ok := c.seen.Get(ctx, hash); ok {
		return
	}
	if c.store != nil {
		if err := c.store.PersistQuery(ctx, hash, query); err != nil {
			c.log.WarnContext(ctx, "saving a persisted query failed", "err", err)
			return
		}
	}
	c.seen.Add(ctx, hash, query)
}

// trustedOnly refuses any document that is not in the manifest, whether it
// comes as text or as a hash, before APQ or parsing see it.
type trustedOnly struct {
	byHash map[string]string
	byText map[string]bool
}

var _ interface {
	graphql.OperationParameterMutator
	graphql.HandlerExtension
} = trustedOnly{}

func newTrustedOnly(byHash map[string]string) trustedOnly {
	t := trustedOnly{byHash: byHash, byText: make(map[string]bool, len(byHash))}
	for _, doc := range byHash {
		t.byText[doc] = true
	}
	return t
}

func (trustedOnly) ExtensionName() string                   { return "TrustedDocumentsOnly" }
func (trustedOnly) Validate(graphql.ExecutableSchema) error { return nil }
func (t trustedOnly) MutateOperationParameters(_ context.Context, raw *graphql.RawParams) *gqlerror.Error {
	if raw.Query != "" {
		if t.byText[raw.Query] {
			return nil
		}
	} else if pq, ok := raw.Extensions["persistedQuery"].(map[string]any); ok {
		if hash, _ := pq["sha256Hash"].(string); t.byHash[hash] != "" {
			return nil
		}
	}
	appErr := models.ErrUntrustedDocument()
	err := &gqlerror.Error{Message: appErr.Message, Err: appErr}
	errcode.Set(err, string(appErr.Code))
	return err
}

// An untrusted document is refused like a document that does not parse: a
// 4xx over HTTP (gqlgen keeps the code → kind table; this is its documented
// hook for extensions' codes).
func init() {
	errcode.RegisterErrorType(string(models.CodeUntrustedDocument), errcode.KindProtocol)
}

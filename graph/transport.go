package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The HTTP transports follow the GraphQL-over-HTTP draft:
//
//   - A request error (the document does not parse or validate, its
//     variables do not coerce, or it exceeds a limit) is answered with no
//     data: 400 when the client accepts application/graphql-response+json,
//     200 when it accepts only application/json (the draft's rule for that
//     media type). A well-formed request's field errors are always 200.
//   - A body that is not one JSON object, a batch (JSON array), and a
//     subscription over plain POST are 400 with code BAD_REQUEST; the body
//     is never echoed. A batch gets one error result per operation.
//   - GET runs queries only; any other operation is 405 with Allow: POST.
//   - Subscriptions (and any operation) are served over Server-Sent Events
//     when the client asks for text/event-stream first (graphql-sse's
//     distinct-connections mode), and over WebSocket.

// CodeBadRequest is the code of a request that is not a GraphQL request
// sessionhub serves (not one JSON object, a batch, a subscription over plain
// POST), beside gqlgen's GRAPHQL_PARSE_FAILED and GRAPHQL_VALIDATION_FAILED.
const CodeBadRequest = "BAD_REQUEST"

// MaxBatchOperations is how many operations one request may carry: batches
// (a JSON array of operations) are refused.
const MaxBatchOperations = 1

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaEventStream     = "text/event-stream"
)

func badRequest(message string, details map[string]any) *gqlerror.Error {
	ext := map[string]any{"code": CodeBadRequest}
	if details != nil {
		ext["details"] = details
	}
	return &gqlerror.Error{Message: message, Extensions: ext}
}

// errSubscriptionOverPOST names the transports that serve subscriptions.
func errSubscriptionOverPOST() *gqlerror.Error {
	return badRequest("Subscriptions are not served over plain HTTP: use WebSocket (graphql-transport-ws or graphql-ws at /query) "+
		"or Server-Sent Events (POST /query with Accept: text/event-stream, the graphql-sse protocol)", nil)
}

// responseMediaType picks the JSON media type of the answer from Accept:
// the first of application/graphql-response+json or application/json it
// names (*/* and application/* mean application/json); application/json when
// Accept is empty, application/graphql-response+json when it names neither.
func responseMediaType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return mediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case mediaJSON, "*/*", "application/*":
			return mediaJSON
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		}
	}
	return mediaGraphQLResponse
}

// prefersEventStream reports whether text/event-stream is the first media
// type in Accept that sessionhub can answer with. graphql-sse asks for it
// alone; urql asks for it first only for subscriptions, and after the JSON
// types for queries, which then get JSON.
func prefersEventStream(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case mediaEventStream:
			return true
		case mediaJSON, mediaGraphQLResponse, "*/*", "application/*":
			return false
		}
	}
	return false
}

// acceptsIncremental reports whether r accepts the incremental delivery of
// @defer (multipart/mixed, as Apollo Client and urql send it), and not as a
// multipart subscription (subscriptionSpec), which is refused like any
// plain-HTTP subscription.
func acceptsIncremental(r *http.Request) bool {
	accepted := false
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mediaType == "multipart/mixed" {
			if params["subscriptionspec"] != "" {
				return false
			}
			accepted = true
		}
	}
	return accepted
}

// deferTransport answers a document that defers fragments with
// multipart/mixed parts (gqlgen's transport), when the client accepts them;
// every other request it is offered is answered as one JSON result, so a
// client that merely lists multipart/mixed (urql) gets JSON for plain
// queries.
type deferTransport struct{ transport.MultipartMixed }

func (t deferTransport) Supports(r *http.Request) bool {
	return acceptsIncremental(r) && !prefersEventStream(r) && t.MultipartMixed.Supports(r)
}

func (t deferTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	body, err := io.ReadAll(r.Body) // already read and bounded by limitBody
	if err != nil {
		refuseBody(r.Context(), w, exec, badRequest("The request body could not be read", nil), 0)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !bytes.Contains(body, []byte("@defer")) {
		postTransport{}.Do(w, r, exec)
		return
	}
	t.MultipartMixed.Do(w, r, exec)
}

// IsEventStream reports whether r asks for a Server-Sent Events answer, a
// stream that lives as long as its subscription.
func IsEventStream(r *http.Request) bool {
	return r.Method == http.MethodPost && isJSONBody(r) && prefersEventStream(r)
}

func isJSONBody(r *http.Request) bool {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mediaType == mediaJSON
}

// maxBatchAnswers bounds the answer to a refused batch: one error result per
// operation (what batching clients expect, so each operation reports the
// reason) up to this many operations, one error object beyond.
const maxBatchAnswers = 100

// decodeBody reads a POST body into params, refusing batches and anything
// but one JSON object without repeating what it was sent. For a batch of n
// operations it also returns n (0 when the body is not a JSON array).
func decodeBody(r *http.Request, params *graphql.RawParams) (refusal *gqlerror.Error, batch int) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return badRequest("The request body could not be read", nil), 0
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var ops []json.RawMessage
		if json.Unmarshal(trimmed, &ops) == nil {
			batch = len(ops)
		}
		return badRequest(fmt.Sprintf("Batched requests are not supported: send at most %d operation per request", MaxBatchOperations),
			map[string]any{"maxOperations": MaxBatchOperations}), batch
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if len(trimmed) == 0 || trimmed[0] != '{' || dec.Decode(params) != nil {
		return badRequest(`The request body must be one JSON object: {"query": "…", "variables": {…}, "operationName": "…"}`, nil), 0
	}
	return nil, 0
}

// refuseBody answers 400 to a body decodeBody refused: for a batch of up to
// maxBatchAnswers operations, a JSON array with one error result each.
func refuseBody(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, refusal *gqlerror.Error, batch int) {
	body := requestErrorBody(exec.DispatchError(ctx, gqlerror.List{refusal}))
	w.WriteHeader(http.StatusBadRequest)
	if batch < 1 || batch > maxBatchAnswers {
		_, _ = w.Write(body)
		return
	}
	answers := make([]json.RawMessage, batch)
	for i := range answers {
		answers[i] = body
	}
	b, _ := json.Marshal(answers)
	_, _ = w.Write(b)
}

func writeResponse(w http.ResponseWriter, status int, resp *graphql.Response) {
	w.WriteHeader(status)
	b, err := json.Marshal(resp)
	if err != nil {
		panic(fmt.Errorf("marshalling a GraphQL response: %w", err))
	}
	_, _ = w.Write(b)
}

// writeRequestError answers a request that was not executed: errors, and
// no data entry at all (the draft's rule for request errors).
func writeRequestError(w http.ResponseWriter, status int, resp *graphql.Response) {
	w.WriteHeader(status)
	_, _ = w.Write(requestErrorBody(resp))
}

func requestErrorBody(resp *graphql.Response) []byte {
	b, err := json.Marshal(struct {
		Errors     gqlerror.List  `json:"errors"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{resp.Errors, resp.Extensions})
	if err != nil {
		panic(fmt.Errorf("marshalling a GraphQL response: %w", err))
	}
	return b
}

// requestErrorStatus is the status of a request error (no execution).
func requestErrorStatus(mediaType string) int {
	if mediaType == mediaGraphQLResponse {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// postTransport serves POST application/json requests answered with JSON.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

func (postTransport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && r.Method == http.MethodPost && isJSONBody(r) && !prefersEventStream(r)
}

func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	mediaType := responseMediaType(r)
	w.Header().Set("Content-Type", mediaType)
	params := &graphql.RawParams{ReadTime: graphql.TraceTiming{Start: graphql.Now()}}
	if refusal, batch := decodeBody(r, params); refusal != nil {
		refuseBody(ctx, w, exec, refusal, batch)
		return
	}
	params.Headers = r.Header
	params.ReadTime.End = graphql.Now()
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		writeRequestError(w, requestErrorStatus(mediaType), exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	if rc.Operation.Operation == ast.Subscription {
		writeRequestError(w, http.StatusBadRequest, exec.DispatchError(graphql.WithOperationContext(ctx, rc), gqlerror.List{errSubscriptionOverPOST()}))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, http.StatusOK, responses(ctx))
}

// getTransport serves queries sent as GET with the parameters in the URL.
type getTransport struct{}

var _ graphql.Transport = getTransport{}

func (getTransport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && r.Method == http.MethodGet
}

func (getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	mediaType := responseMediaType(r)
	w.Header().Set("Content-Type", mediaType)
	refuse := func(status int, err *gqlerror.Error) {
		writeRequestError(w, status, exec.DispatchError(ctx, gqlerror.List{err}))
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		refuse(http.StatusBadRequest, badRequest("The query string could not be parsed", nil))
		return
	}
	params := &graphql.RawParams{
		Query:         query.Get("query"),
		OperationName: query.Get("operationName"),
		Headers:       r.Header,
		ReadTime:      graphql.TraceTiming{Start: graphql.Now()},
	}
	for name, dst := range map[string]any{"variables": &params.Variables, "extensions": &params.Extensions} {
		if raw := query.Get(name); raw != "" {
			dec := json.NewDecoder(strings.NewReader(raw))
			dec.UseNumber()
			if dec.Decode(dst) != nil {
				refuse(http.StatusBadRequest, badRequest("The "+name+" parameter must be a JSON object", nil))
				return
			}
		}
	}
	params.ReadTime.End = graphql.Now()
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		writeRequestError(w, requestErrorStatus(mediaType), exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	if rc.Operation.Operation != ast.Query {
		w.Header().Set("Allow", http.MethodPost)
		err := badRequest("GET runs queries only: send mutations with POST, and subscriptions over WebSocket or Server-Sent Events", nil)
		writeRequestError(w, http.StatusMethodNotAllowed, exec.DispatchError(graphql.WithOperationContext(ctx, rc), gqlerror.List{err}))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, http.StatusOK, responses(ctx))
}

// sseTransport serves any operation over Server-Sent Events, as graphql-sse's
// distinct-connections mode expects: one POST per operation answered with
// text/event-stream, a "next" event per result (request errors included),
// then "complete". A comment line every keepAlive keeps proxies from closing
// an idle stream. At server shutdown the stream ends without "complete", so
// clients reconnect (graphql-sse retries by itself).
type sseTransport struct {
	keepAlive time.Duration
	shutdown  <-chan struct{}
}

var _ graphql.Transport = sseTransport{}

func (sseTransport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && IsEventStream(r)
}

func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		w.Header().Set("Content-Type", mediaJSON)
		writeResponse(w, http.StatusInternalServerError, &graphql.Response{Errors: gqlerror.List{{Message: "streaming unsupported"}}})
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var shuttingDown atomic.Bool
	if t.shutdown != nil {
		go func() {
			select {
			case <-t.shutdown:
				shuttingDown.Store(true)
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	params := &graphql.RawParams{ReadTime: graphql.TraceTiming{Start: graphql.Now()}}
	if refusal, batch := decodeBody(r, params); refusal != nil {
		w.Header().Set("Content-Type", responseMediaType(r))
		refuseBody(ctx, w, exec, refusal, batch)
		return
	}
	params.Headers = r.Header
	params.ReadTime.End = graphql.Now()

	w.Header().Set("Content-Type", mediaEventStream)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: pass events on at once
	w.WriteHeader(http.StatusOK)
	var mu sync.Mutex // one writer at a time: results and keep-alive comments
	write := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = io.WriteString(w, s)
		flusher.Flush()
	}
	writeNext := func(resp *graphql.Response) {
		b, err := json.Marshal(resp)
		if err != nil {
			panic(fmt.Errorf("marshalling a GraphQL response: %w", err))
		}
		write("event: next\ndata: " + string(b) + "\n\n")
	}
	write(":\n\n")
	var keepingAlive sync.WaitGroup
	if t.keepAlive > 0 {
		keepingAlive.Go(func() {
			ticker := time.NewTicker(t.keepAlive)
			defer ticker.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-ticker.C:
					write(": ping\n\n")
				}
			}
		})
	}

	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		write("event: next\ndata: " + string(requestErrorBody(exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))) + "\n\n")
	} else {
		responses, dispatchCtx := exec.DispatchOperation(graphql.WithOperationContext(ctx, rc), rc)
		for resp := responses(dispatchCtx); resp != nil; resp = responses(dispatchCtx) {
			writeNext(resp)
		}
	}
	if !shuttingDown.Load() && r.Context().Err() == nil {
		write("event: complete\ndata: \n\n")
	}
	cancel() // the keep-alive stops before the handler returns
	keepingAlive.Wait()
}

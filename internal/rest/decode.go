package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"

	"sessionhub/models"
)

// MaxBodyBytes bounds every request body (SPEC §7).
const MaxBodyBytes = 128 << 10

// decodeJSON reads one JSON object from the request body into dst. Every
// failure is a 4xx with a sentence the caller can act on.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	// A body without a Content-Type is refused like any other non-JSON
	// type; no body at all is answered below (it is not a JSON object).
	if ct := r.Header.Get("Content-Type"); ct != "" || r.ContentLength != 0 {
		mediaType, _, err := mime.ParseMediaType(ct)
		if err != nil || (mediaType != "application/json" && !strings.HasSuffix(mediaType, "+json")) {
			return requestErr(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return decodeError(err)
	}
	// Decoding would turn a lone surrogate into U+FFFD without a word; refuse
	// it (and NUL) in the raw text, the same on every database.
	if !models.ValidJSONText(body) {
		return models.ErrInvalidText("the request body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("Request body must be a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return requestErr(http.StatusRequestEntityTooLarge, "Request body exceeds 131072 bytes")
	}
	if errors.Is(err, os.ErrDeadlineExceeded) { // the server's body read deadline
		return requestErr(http.StatusRequestTimeout, "Request body did not arrive in time")
	}
	if typeErr, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if typeErr.Field == "" {
			return badRequest("Request body must be a JSON object")
		}
		return badRequest("Invalid request body: " + typeErr.Field + " must be " + jsonKind(typeErr.Type.Kind().String()))
	}
	if errors.Is(err, io.EOF) {
		return badRequest("Request body must be a JSON object")
	}
	return badRequest("Request body is not valid JSON")
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int32", "int64":
		return "an integer"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	default:
		return "of another type"
	}
}

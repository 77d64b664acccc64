// Package scalar marshals the schema's custom scalars: Time with millisecond
// precision in UTC, and JSON objects that round-trip unchanged.
package scalar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"sessionhub/models"
)

// MarshalTime writes t as models.TimeLayout.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(models.FormatTime(t)))
	})
}

// UnmarshalTime reads an RFC 3339 string.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, models.ErrValidation("Time must be an RFC 3339 string")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, models.ErrValidation("Time must be an RFC 3339 string")
	}
	return t.UTC(), nil
}

// MarshalJSON writes the stored object as is.
func MarshalJSON(o models.JSONObject) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		b, _ := o.MarshalJSON()
		_, _ = w.Write(b)
	})
}

// UnmarshalJSON accepts an object given inline or through variables (whose
// numbers arrive as json.Number and keep their text). Anything else is a
// VALIDATION_ERROR.
func UnmarshalJSON(v any) (models.JSONObject, error) {
	if v == nil {
		return models.JSONObject("{}"), nil
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, models.ErrValidation("Metadata must be a JSON object")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, models.ErrValidation(fmt.Sprintf("Metadata is not valid JSON: %T", v))
	}
	return models.ParseJSONObject(buf.Bytes())
}

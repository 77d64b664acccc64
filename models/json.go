package models

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
)

// JSONObject is a JSON object kept as its compact encoding. On SQLite it is
// stored as sent; PostgreSQL's jsonb keeps the same value but orders keys and
// normalises numbers its own way (e.g. 1E2 reads back as 100), and what is
// read back is compacted again. The zero value is the empty object.
type JSONObject []byte

// ParseJSONObject validates raw as a JSON object and returns its compact form.
// A null or absent value yields the empty object.
func ParseJSONObject(raw []byte) (JSONObject, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return JSONObject("{}"), nil
	}
	if raw[0] != '{' || !json.Valid(raw) {
		return nil, fmt.Errorf("not a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return JSONObject(buf.Bytes()), nil
}

// OrEmpty returns o, or {} for the zero value, so that stored and returned
// objects are never null.
func (o JSONObject) OrEmpty() JSONObject {
	if len(o) == 0 {
		return JSONObject("{}")
	}
	return o
}

// MarshalJSON writes the object; the zero value is {}.
func (o JSONObject) MarshalJSON() ([]byte, error) {
	if len(o) == 0 {
		return []byte("{}"), nil
	}
	return o, nil
}

// UnmarshalJSON accepts a JSON object or null.
func (o *JSONObject) UnmarshalJSON(b []byte) error {
	v, err := ParseJSONObject(b)
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// Value stores the object as JSON text (jsonb on PostgreSQL, text on SQLite).
func (o JSONObject) Value() (driver.Value, error) {
	if len(o) == 0 {
		return "{}", nil
	}
	return string(o), nil
}

// Scan reads JSON text from the database.
func (o *JSONObject) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*o = JSONObject("{}")
	case []byte:
		*o = compactCopy(v)
	case string:
		*o = compactCopy([]byte(v))
	default:
		return fmt.Errorf("JSONObject: cannot scan %T", src)
	}
	return nil
}

// compactCopy removes the spaces jsonb puts after ':' and ','; it always
// copies, since drivers may reuse their buffers.
func compactCopy(b []byte) JSONObject {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return append(JSONObject(nil), b...)
	}
	return JSONObject(buf.Bytes())
}

// Attachment is a file or link sent with a message.
type Attachment struct {
	Type string  `json:"type"`
	URL  string  `json:"url"`
	Name *string `json:"name,omitempty"`
}

// Attachments is stored as a JSON array.
type Attachments []Attachment

// Value stores the list as JSON text; an empty list is [].
func (a Attachments) Value() (driver.Value, error) {
	if len(a) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal([]Attachment(a))
	return string(b), err
}

// Scan reads a JSON array from the database.
func (a *Attachments) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*a = nil
		return nil
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("Attachments: cannot scan %T", src)
	}
	var list []Attachment
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*a = list
	return nil
}
